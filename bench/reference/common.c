/* Options, sockets, framing and measurement shared by the C reference's workloads. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

void die(const char *what) {
  fprintf(stderr, "reference: %s: %s\n", what, strerror(errno));
  exit(1);
}

double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void parse_options(int argc, char **argv, struct options *o) {
  if (argc < 4) {
    fprintf(stderr, "usage: reference <server|client> <workload> <socket path> key=value...\n");
    exit(2);
  }
  memset(o, 0, sizeof *o);
  o->role = argv[1];
  o->workload = argv[2];
  o->address = argv[3];
  o->size = 64;
  o->fds = 1;
  o->batch = 1;
  o->window = 1;
  o->conns = 1;
  o->steps = 1;
  o->repeats = 1;
  for (int i = 4; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (eq == NULL) continue;
    const char *key = argv[i];
    size_t n = (size_t)(eq - key);
    const char *value = eq + 1;
#define KEY(name) (n == strlen(name) && strncmp(key, name, n) == 0)
    if (KEY("type")) o->seqpacket = strcmp(value, "seqpacket") == 0;
    else if (KEY("size")) o->size = (size_t)atol(value);
    else if (KEY("fds")) o->fds = atoi(value);
    else if (KEY("batch")) o->batch = atol(value);
    else if (KEY("window")) o->window = atoi(value);
    else if (KEY("conns")) o->conns = atoi(value);
    else if (KEY("count")) o->count = atol(value);
    else if (KEY("steps")) o->steps = atoi(value);
    else if (KEY("warmup")) o->warmup_ms = atof(value);
    else if (KEY("repeat")) o->repeat_ms = atof(value);
    else if (KEY("repeats")) o->repeats = atoi(value);
#undef KEY
  }
}

static socklen_t address_of(const char *path, struct sockaddr_un *sun) {
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sun->sun_path) {
    errno = ENAMETOOLONG;
    die(path);
  }
  strcpy(sun->sun_path, path);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

int listen_on(const char *path, int seqpacket) {
  struct sockaddr_un sun;
  socklen_t length = address_of(path, &sun);
  int fd = socket(AF_UNIX, (seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sun, length) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  return fd;
}

int connect_to(const char *path, int seqpacket) {
  struct sockaddr_un sun;
  socklen_t length = address_of(path, &sun);
  int fd = socket(AF_UNIX, (seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  while (connect(fd, (struct sockaddr *)&sun, length) < 0) {
    if (errno != EINTR && errno != EAGAIN) die("connect");
  }
  return fd;
}

void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl");
}

void print_ready(void) {
  printf("{\"ready\":true}\n");
  fflush(stdout);
}

void wait_for_go(void) {
  char line[64];
  if (fgets(line, sizeof line, stdin) == NULL) exit(1);
}

void print_repeats(const struct repeat *r, int n, int with_latency) {
  printf("{\"repeats\":[");
  for (int i = 0; i < n; i++) {
    printf("%s{\"ops\":%ld,\"ms\":%.4f", i ? "," : "", r[i].ops, r[i].ms);
    if (with_latency) printf(",\"p50\":%.3f,\"p99\":%.3f", r[i].p50_us, r[i].p99_us);
    printf("}");
  }
  printf("]}\n");
  fflush(stdout);
}

/* A peer that went away (it exited at the end of its run) is not an error of ours. */
static int peer_gone(void) { return errno == EPIPE || errno == ECONNRESET; }

int send_all(int fd, const void *data, size_t length) {
  const unsigned char *p = data;
  while (length > 0) {
    ssize_t n = send(fd, p, length, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (peer_gone()) return -1;
      die("send");
    }
    p += n;
    length -= (size_t)n;
  }
  return 0;
}

/* Header and payload in one sendmsg, the descriptors with its first byte (the wire format's
 * sender rules); the rest of a partial write goes without them. */
int send_frame(int fd, const void *payload, uint32_t length, const int *fds, int nfds) {
  static unsigned char *frame = NULL;
  static size_t frame_cap = 0;
  size_t total = HEADER_BYTES + length;
  if (frame_cap < total) {
    free(frame);
    frame = malloc(total);
    if (frame == NULL) die("malloc");
    frame_cap = total;
  }
  frame[0] = (unsigned char)(length >> 24);
  frame[1] = (unsigned char)(length >> 16);
  frame[2] = (unsigned char)(length >> 8);
  frame[3] = (unsigned char)length;
  frame[4] = (unsigned char)(nfds >> 8);
  frame[5] = (unsigned char)nfds;
  frame[6] = frame[7] = 0;
  if (length > 0) memcpy(frame + HEADER_BYTES, payload, length);

  struct iovec iov = {frame, total};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    char bytes[CMSG_SPACE(MAX_FDS * sizeof(int))];
    struct cmsghdr align;
  } control;
  if (nfds > 0) {
    msg.msg_control = control.bytes;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
  }
  ssize_t n;
  while ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0) {
    if (peer_gone()) return -1;
    if (errno != EINTR) die("sendmsg");
  }
  return (size_t)n < total ? send_all(fd, frame + n, total - (size_t)n) : 0;
}

void reader_init(struct reader *r, int fd, size_t cap) {
  r->fd = fd;
  r->buf = malloc(cap);
  if (r->buf == NULL) die("malloc");
  r->cap = cap;
  r->start = r->end = 0;
  r->fifo_len = 0;
}

long reader_fill(struct reader *r) {
  /* Move a partial frame to the front once less than half the buffer is left behind it. */
  if (r->start > 0 && (r->start == r->end || r->cap - r->end < r->cap / 2)) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->end == r->cap) {
    errno = EMSGSIZE;
    die("frame larger than the receive buffer");
  }
  struct iovec iov = {r->buf + r->end, r->cap - r->end};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    char bytes[CMSG_SPACE(MAX_FDS * sizeof(int))];
    struct cmsghdr align;
  } control;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;
  ssize_t n;
  while ((n = recvmsg(r->fd, &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno == EAGAIN) return -1;
    if (peer_gone()) return 0;
    if (errno != EINTR) die("recvmsg");
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (r->fifo_len + count > (int)(sizeof r->fifo / sizeof r->fifo[0])) {
      errno = EMFILE;
      die("descriptor FIFO overflow");
    }
    memcpy(r->fifo + r->fifo_len, CMSG_DATA(c), count * sizeof(int));
    r->fifo_len += count;
  }
  r->end += (size_t)n;
  return n;
}

int take_buffered_frame(struct reader *r, unsigned char **payload, uint32_t *length, int *fds, int *nfds) {
  size_t have = r->end - r->start;
  if (have < HEADER_BYTES) return 0;
  const unsigned char *h = r->buf + r->start;
  uint32_t len = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
  int count = (h[4] << 8) | h[5];
  if (have < HEADER_BYTES + (size_t)len) return 0;
  if (count > r->fifo_len) {
    errno = EPROTO;
    die("a frame claims descriptors that did not arrive");
  }
  memcpy(fds, r->fifo, count * sizeof(int));
  memmove(r->fifo, r->fifo + count, (r->fifo_len - count) * sizeof(int));
  r->fifo_len -= count;
  *nfds = count;
  *payload = r->buf + r->start + HEADER_BYTES;
  *length = len;
  r->start += HEADER_BYTES + len;
  return 1;
}

long read_frame(struct reader *r, unsigned char **payload, int *fds, int *nfds) {
  uint32_t length;
  for (;;) {
    if (take_buffered_frame(r, payload, &length, fds, nfds)) return (long)length;
    long n = reader_fill(r);
    if (n == 0) return -1;
    if (n < 0) {
      errno = EAGAIN;
      die("read_frame on a non-blocking socket");
    }
  }
}

int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void close_received(int *fds, int nfds) {
  for (int i = 1; i < nfds; i++) { /* insertion sort: a message carries at most 253 */
    int v = fds[i], j = i;
    while (j > 0 && fds[j - 1] > v) {
      fds[j] = fds[j - 1];
      j--;
    }
    fds[j] = v;
  }
  for (int i = 0; i < nfds;) {
    int last = i;
    while (last + 1 < nfds && fds[last + 1] == fds[last] + 1) last++;
    if (last == i || syscall(SYS_close_range, fds[i], fds[last], 0) != 0) {
      for (int k = i; k <= last; k++) close(fds[k]);
    }
    i = last + 1;
  }
}
