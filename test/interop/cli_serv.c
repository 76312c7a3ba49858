/*
 * cli_serv.c - interop peer for the SDK's tests (not part of the SDK).
 *
 * Build: cc -O2 -Wall -o cli_serv test/interop/cli_serv.c
 *
 * Roles:
 *   server <path> [clients]                  serv_listen + serv_accept, one message each way
 *   client <server path> <own path>          cli_conn, one message each way
 *   dgram-server <address>                   one datagram in, one reply out
 *   dgram-client <server address> <own address or "">
 *
 * An address is a filesystem path, or "@name" for the Linux abstract
 * namespace. Every stdout line is flushed at once; failures go to stderr
 * with a non-zero exit status; after 20 seconds the program gives up with
 * status 4.
 *
 * serv_listen, serv_accept and cli_conn follow the classic scheme in which a
 * server learns a client's identity from the socket file the client bound:
 * the file must be a socket, accessible by its owner only, and fresh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_SECONDS 20
#define TIMEOUT_STATUS 4
#define MAX_FDS 253
#define RECV_SIZE (64 * 1024)
#define LISTEN_BACKLOG 10
#define STALE_SECONDS 30
#define CLIENT_PERMS S_IRWXU

/* serv_accept's error codes (serv_accept returns -1 when accept itself fails). */
#define ERR_UNBOUND (-2)   /* the client bound no path */
#define ERR_NOT_SOCKET (-3) /* no socket file at the client's path */
#define ERR_PERMS (-4)     /* the socket file's mode is not rwx------ */
#define ERR_STALE (-5)     /* the socket file's times are older than STALE_SECONDS */

#define SUN_PATH_SIZE (sizeof(((struct sockaddr_un *)0)->sun_path))

static char own_text[] = "from c";
static const char own_pipe_content[] = "c pipe content";
static const char *role = "";

/* Socket files this process created, removed on exit. */
static const char *cleanup_paths[2];
static int cleanup_count;

/* The path of the client last accepted by serv_accept. */
static char accepted_path[SUN_PATH_SIZE + 1];

static unsigned char recv_buf[RECV_SIZE];

struct message {
	size_t len;
	int nfds;
	int fds[MAX_FDS];
	int have_creds;
	struct ucred creds;
	struct sockaddr_un from;
	socklen_t fromlen;
};

/* ---------------------------------------------------------------- failures */

static void cleanup(void)
{
	while (cleanup_count > 0)
		unlink(cleanup_paths[--cleanup_count]);
}

static void remember_path(const char *path)
{
	if (path[0] != '\0' && path[0] != '@' && cleanup_count < 2)
		cleanup_paths[cleanup_count++] = path;
}

static void on_alarm(int sig)
{
	static const char msg[] = "cli_serv: gave up after 20 seconds\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	cleanup();
	_exit(TIMEOUT_STATUS);
}

/* Prints "cli_serv <role>: <message>[: <strerror>]" and exits with status 1. */
static void fail(int with_errno, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, "cli_serv %s: ", role);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	cleanup();
	exit(1);
}

/* ------------------------------------------------------------------ output */

static void end_line(void)
{
	putchar('\n');
	if (fflush(stdout) != 0)
		fail(1, "write to stdout");
}

static void put_escaped(unsigned char c)
{
	switch (c) {
	case '"': fputs("\\\"", stdout); break;
	case '\\': fputs("\\\\", stdout); break;
	case '\b': fputs("\\b", stdout); break;
	case '\f': fputs("\\f", stdout); break;
	case '\n': fputs("\\n", stdout); break;
	case '\r': fputs("\\r", stdout); break;
	case '\t': fputs("\\t", stdout); break;
	default:
		if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
}

/*
 * Prints bytes as a JSON string: the bytes are decoded as UTF-8, each
 * invalid sequence (maximal subpart) replaced by U+FFFD; '"', '\\' and
 * control characters are escaped, everything else is printed as UTF-8.
 */
static void put_json(const unsigned char *s, size_t n)
{
	size_t i = 0;

	putchar('"');
	while (i < n) {
		unsigned char b = s[i];
		unsigned char lower = 0x80, upper = 0xbf;
		size_t need, j, k;

		if (b < 0x80) {
			put_escaped(b);
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			need = 1;
		} else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			if (b == 0xe0)
				lower = 0xa0;
			else if (b == 0xed)
				upper = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			if (b == 0xf0)
				lower = 0x90;
			else if (b == 0xf4)
				upper = 0x8f;
		} else {
			fputs("\xef\xbf\xbd", stdout);
			i++;
			continue;
		}
		j = i + 1;
		for (k = 0; k < need; k++, j++) {
			if (j >= n || s[j] < lower || s[j] > upper)
				break;
			lower = 0x80;
			upper = 0xbf;
		}
		if (k == need)
			fwrite(s + i, 1, j - i, stdout);
		else
			fputs("\xef\xbf\xbd", stdout); /* the offending byte is read again */
		i = j;
	}
	putchar('"');
}

static void put_json_str(const char *s)
{
	put_json((const unsigned char *)s, strlen(s));
}

/* Prints a socket address as a JSON string: a path, "@" + abstract name, or "". */
static void put_address(const struct sockaddr_un *a, socklen_t len)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n;
	unsigned char text[SUN_PATH_SIZE + 1];

	if (len <= off) {
		put_json((const unsigned char *)"", 0);
		return;
	}
	n = len - off;
	if (n > SUN_PATH_SIZE)
		n = SUN_PATH_SIZE;
	if (a->sun_path[0] == '\0') {
		text[0] = '@';
		memcpy(text + 1, a->sun_path + 1, n - 1);
	} else {
		n = strnlen(a->sun_path, n);
		memcpy(text, a->sun_path, n);
	}
	put_json(text, n);
}

static void say(const char *line)
{
	fputs(line, stdout);
	end_line();
}

/* -------------------------------------------------------------- addresses */

/* Fills *a from "path", "@name" or "" (no name); returns the address length. */
static socklen_t make_address(const char *text, struct sockaddr_un *a)
{
	size_t n = strlen(text);

	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (n == 0)
		return sizeof(sa_family_t);
	if (text[0] == '@') {
		if (n > SUN_PATH_SIZE)
			fail(0, "abstract name too long: %s", text);
		memcpy(a->sun_path + 1, text + 1, n - 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	if (n >= SUN_PATH_SIZE)
		fail(0, "path too long: %s", text);
	memcpy(a->sun_path, text, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* Unlinks a socket file left behind at a path address. */
static void remove_stale_socket(const char *text)
{
	struct stat st;

	if (text[0] == '\0' || text[0] == '@')
		return;
	if (lstat(text, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(text) < 0)
		fail(1, "unlink %s", text);
}

/* ------------------------------------------------- the classic trio */

/* Creates a listening stream socket bound to name; returns it, or a negative value. */
int serv_listen(const char *name)
{
	struct sockaddr_un un;
	size_t n = strlen(name);
	int fd, err, rval;

	if (n >= SUN_PATH_SIZE) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, name, n);
	unlink(name); /* in case it already exists */
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -2;
	if (bind(fd, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
		rval = -3;
		goto errout;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		rval = -4;
		goto errout;
	}
	return fd;

errout:
	err = errno;
	close(fd);
	errno = err;
	return rval;
}

/*
 * Waits for a client and checks the socket file it bound: it must be a
 * socket, rwx for its owner only and recently made. The owner's uid goes to
 * *uidptr, the path to accepted_path, and the file is removed. Returns the
 * connected descriptor, or a negative code (the connection is then closed).
 */
int serv_accept(int listenfd, uid_t *uidptr)
{
	struct sockaddr_un un;
	socklen_t len = sizeof un;
	struct stat st;
	time_t staletime;
	size_t n;
	int clifd, err, rval;

	accepted_path[0] = '\0';
	do
		clifd = accept(listenfd, (struct sockaddr *)&un, &len);
	while (clifd < 0 && errno == EINTR);
	if (clifd < 0)
		return -1;

	if (len <= offsetof(struct sockaddr_un, sun_path)) {
		rval = ERR_UNBOUND;
		goto errout;
	}
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (n > SUN_PATH_SIZE)
		n = SUN_PATH_SIZE;
	n = strnlen(un.sun_path, n); /* 0 for an abstract name: no path either */
	if (n == 0) {
		rval = ERR_UNBOUND;
		goto errout;
	}
	memcpy(accepted_path, un.sun_path, n);
	accepted_path[n] = '\0';

	if (stat(accepted_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		rval = ERR_NOT_SOCKET;
		goto errout;
	}
	if ((st.st_mode & 0777) != CLIENT_PERMS) {
		rval = ERR_PERMS;
		goto errout;
	}
	staletime = time(NULL) - STALE_SECONDS;
	if (st.st_atime < staletime || st.st_ctime < staletime || st.st_mtime < staletime) {
		rval = ERR_STALE;
		goto errout;
	}
	if (uidptr != NULL)
		*uidptr = st.st_uid;
	unlink(accepted_path);
	return clifd;

errout:
	err = errno;
	close(clifd);
	errno = err;
	return rval;
}

/*
 * Connects to the server at name from a socket bound to own_path (mode
 * rwx------). Returns the descriptor, or a negative value.
 */
int cli_conn(const char *name, const char *own_path)
{
	struct sockaddr_un un, sun;
	size_t own_len = strlen(own_path), name_len = strlen(name);
	int fd, err, rval, do_unlink = 0;

	if (own_len == 0 || own_len >= SUN_PATH_SIZE || name_len == 0 || name_len >= SUN_PATH_SIZE) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -1;

	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, own_path, own_len);
	unlink(own_path); /* in case it already exists */
	if (bind(fd, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + own_len)) < 0) {
		rval = -2;
		goto errout;
	}
	do_unlink = 1;
	if (chmod(own_path, CLIENT_PERMS) < 0) {
		rval = -3;
		goto errout;
	}

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, name_len);
	if (connect(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len)) < 0) {
		rval = -4;
		goto errout;
	}
	return fd;

errout:
	err = errno;
	close(fd);
	if (do_unlink)
		unlink(own_path);
	errno = err;
	return rval;
}

/* ------------------------------------------------------------ descriptors */

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static const char *fd_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		fail(1, "fstat received descriptor %d", fd);
	if (S_ISREG(st.st_mode))
		return "file";
	if (S_ISFIFO(st.st_mode))
		return "fifo";
	if (S_ISSOCK(st.st_mode))
		return "socket";
	return "other";
}

/* Everything read from fd until end of file (waiting if fd is non-blocking). */
static unsigned char *read_all(int fd, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	unsigned char *buf = malloc(cap);

	if (buf == NULL)
		fail(0, "out of memory");
	for (;;) {
		ssize_t r;

		if (len == cap) {
			unsigned char *bigger = realloc(buf, cap * 2);

			if (bigger == NULL)
				fail(0, "out of memory");
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r > 0) {
			len += (size_t)r;
		} else if (r == 0) {
			break;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				fail(1, "poll received descriptor");
		} else if (errno != EINTR) {
			fail(1, "read received descriptor");
		}
	}
	*lenp = len;
	return buf;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fail(1, "write pipe");
		}
		s += w;
		n -= (size_t)w;
	}
}

/* --------------------------------------------------------------- messages */

static void set_passcred(int fd)
{
	int on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
		fail(1, "setsockopt SO_PASSCRED");
}

static void print_peer(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof uc;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		fail(1, "getsockopt SO_PEERCRED");
	printf("peer pid=%ld uid=%lu gid=%lu", (long)uc.pid, (unsigned long)uc.uid, (unsigned long)uc.gid);
	end_line();
}

static void print_bound(int fd)
{
	struct sockaddr_un a;
	socklen_t len = sizeof a;

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		fail(1, "getsockname");
	fputs("bound ", stdout);
	put_address(&a, len);
	end_line();
}

/* One recvmsg into *m (the data lands in recv_buf). */
static void receive(int fd, struct message *m)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = recv_buf, .iov_len = sizeof recv_buf };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(m, 0, sizeof *m);
	memset(&msg, 0, sizeof msg);
	msg.msg_name = &m->from;
	msg.msg_namelen = sizeof m->from;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail(1, "recvmsg");
	m->len = (size_t)n;
	m->fromlen = msg.msg_namelen;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (k > (size_t)(MAX_FDS - m->nfds))
				k = (size_t)(MAX_FDS - m->nfds);
			memcpy(m->fds + m->nfds, CMSG_DATA(c), k * sizeof(int));
			m->nfds += (int)k;
		} else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			memcpy(&m->creds, CMSG_DATA(c), sizeof m->creds);
			m->have_creds = 1;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		close_fds(m->fds, m->nfds);
		fail(0, "control data truncated (MSG_CTRUNC)");
	}
	if (msg.msg_flags & MSG_TRUNC) {
		close_fds(m->fds, m->nfds);
		fail(0, "message truncated (MSG_TRUNC)");
	}
}

/* Receives one message on a stream connection; its end is a failure. */
static void receive_one(int fd, struct message *m)
{
	receive(fd, m);
	if (m->len == 0 && m->nfds == 0)
		fail(0, "the peer closed the connection before sending a message");
}

/* Prints the "received" line and one "fd" line per descriptor, then closes them. */
static void print_message(const struct message *m, int with_from)
{
	fputs("received text=", stdout);
	put_json(recv_buf, m->len);
	printf(" fds=%d creds=", m->nfds);
	if (m->have_creds)
		printf("%ld,%lu,%lu", (long)m->creds.pid, (unsigned long)m->creds.uid, (unsigned long)m->creds.gid);
	else
		fputs("none", stdout);
	if (with_from) {
		fputs(" from=", stdout);
		put_address(&m->from, m->fromlen);
	}
	end_line();

	for (int i = 0; i < m->nfds; i++) {
		const char *kind = fd_kind(m->fds[i]);
		unsigned char *content = NULL;
		size_t len = 0;
		int flags;

		if (strcmp(kind, "file") == 0 || strcmp(kind, "fifo") == 0) {
			flags = fcntl(m->fds[i], F_GETFL);
			if (flags < 0)
				fail(1, "fcntl F_GETFL");
			if ((flags & O_ACCMODE) != O_WRONLY)
				content = read_all(m->fds[i], &len);
		}
		printf("fd %d %s content=", i, kind);
		put_json(content, len);
		end_line();
		free(content);
	}
	close_fds(m->fds, m->nfds);
}

/* Sends "from c" with the read end of a fresh pipe holding "c pipe content". */
static void send_own(int fd, const struct sockaddr_un *to, socklen_t tolen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = own_text, .iov_len = strlen(own_text) };
	struct msghdr msg;
	struct cmsghdr *c;
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		fail(1, "pipe");
	write_all(p[1], own_pipe_content, strlen(own_pipe_content));
	close(p[1]);

	memset(&control, 0, sizeof control);
	memset(&msg, 0, sizeof msg);
	msg.msg_name = (void *)to;
	msg.msg_namelen = to != NULL ? tolen : 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[0], sizeof(int));

	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail(1, "sendmsg");
	if ((size_t)n != iov.iov_len)
		fail(0, "short send: %zd of %zu bytes", n, iov.iov_len);
	close(p[0]);
}

/* Reads (and discards) until the peer closes its side of the connection. */
static void wait_eof(int fd)
{
	struct message m;

	for (;;) {
		receive(fd, &m);
		close_fds(m.fds, m.nfds);
		if (m.len == 0) /* a stream carries no empty messages */
			return;
	}
}

/* ------------------------------------------------------------------ roles */

static int role_server(int argc, char **argv)
{
	const char *path;
	long clients = 1;
	int lfd, done = 0;

	if (argc < 1 || argc > 2)
		fail(0, "usage: server <path> [clients]");
	path = argv[0];
	if (argc == 2) {
		char *end;

		clients = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || clients < 1)
			fail(0, "clients must be a positive number: %s", argv[1]);
	}
	if ((lfd = serv_listen(path)) < 0)
		fail(1, "serv_listen %s (code %d)", path, lfd);
	remember_path(path);
	set_passcred(lfd);
	say("listening");

	while (done < clients) {
		struct message m;
		uid_t uid;
		int fd = serv_accept(lfd, &uid);

		if (fd == -1)
			fail(1, "accept");
		if (fd < 0) {
			printf("refused code=%d", fd);
			end_line();
			continue;
		}
		printf("accepted uid=%lu path=", (unsigned long)uid);
		put_json_str(accepted_path);
		end_line();
		print_peer(fd);
		set_passcred(fd);
		receive_one(fd, &m);
		print_message(&m, 0);
		send_own(fd, NULL, 0);
		say("sent");
		wait_eof(fd);
		close(fd);
		done++;
	}
	close(lfd);
	cleanup();
	return 0;
}

static int role_client(int argc, char **argv)
{
	struct message m;
	int fd;

	if (argc != 2)
		fail(0, "usage: client <server path> <own path>");
	if ((fd = cli_conn(argv[0], argv[1])) < 0)
		fail(1, "cli_conn %s from %s (code %d)", argv[0], argv[1], fd);
	remember_path(argv[1]);
	print_peer(fd);
	set_passcred(fd);
	send_own(fd, NULL, 0);
	say("sent");
	receive_one(fd, &m);
	print_message(&m, 0);
	close(fd);
	cleanup();
	return 0;
}

/* A datagram socket bound to address ("" = autobind), SO_PASSCRED set, "bound" printed. */
static int bind_dgram(const char *address)
{
	struct sockaddr_un a;
	socklen_t len = make_address(address, &a);
	int fd;

	remove_stale_socket(address);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0)
		fail(1, "socket");
	if (bind(fd, (struct sockaddr *)&a, len) < 0)
		fail(1, "bind %s", address);
	remember_path(address);
	set_passcred(fd);
	print_bound(fd);
	return fd;
}

static int role_dgram_server(int argc, char **argv)
{
	struct message m;
	int fd;

	if (argc != 1 || argv[0][0] == '\0')
		fail(0, "usage: dgram-server <address>");
	fd = bind_dgram(argv[0]);
	receive(fd, &m);
	print_message(&m, 1);
	if (m.fromlen <= offsetof(struct sockaddr_un, sun_path)) {
		say("sender unnamed");
	} else {
		send_own(fd, &m.from, m.fromlen);
		say("sent");
	}
	close(fd);
	cleanup();
	return 0;
}

static int role_dgram_client(int argc, char **argv)
{
	struct sockaddr_un server;
	socklen_t server_len;
	struct message m;
	int fd;

	if (argc != 2 || argv[0][0] == '\0')
		fail(0, "usage: dgram-client <server address> <own address or \"\">");
	server_len = make_address(argv[0], &server);
	fd = bind_dgram(argv[1]);
	send_own(fd, &server, server_len);
	say("sent");
	receive(fd, &m);
	print_message(&m, 1);
	close(fd);
	cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} roles[] = {
		{ "server", role_server },
		{ "client", role_client },
		{ "dgram-server", role_dgram_server },
		{ "dgram-client", role_dgram_client },
	};

	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(TIMEOUT_SECONDS);
	if (argc >= 2) {
		for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
			if (strcmp(argv[1], roles[i].name) == 0) {
				role = roles[i].name;
				return roles[i].run(argc - 2, argv + 2);
			}
		}
	}
	fprintf(stderr, "usage: cli_serv <server|client|dgram-server|dgram-client> [args...]\n");
	return 2;
}
