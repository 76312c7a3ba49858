/* The workloads of the C reference: a server and a client for each (see bench/README.md). */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN_FD 65536
#define MAX_EVENTS 256

static int is(const struct options *o, const char *workload) { return strcmp(o->workload, workload) == 0; }

/* ------------------------------------------------------------------------------------------
 * Time-boxed repeats: `step` runs some operations and returns how many; a warm-up first, then
 * `repeats` windows of `repeat_ms`. Latencies recorded with `keep_latency` go to each window. */

static double *latencies = NULL;
static long latency_count = 0, latency_cap = 0;

static void keep_latency(double us) {
  if (latency_count == latency_cap) {
    latency_cap = latency_cap ? latency_cap * 2 : 1 << 16;
    latencies = realloc(latencies, latency_cap * sizeof(double));
    if (latencies == NULL) die("realloc");
  }
  latencies[latency_count++] = us;
}

static double percentile(double p) {
  if (latency_count == 0) return 0;
  long i = (long)(p * (double)(latency_count - 1) + 0.5);
  return latencies[i];
}

static void run_repeats(const struct options *o, long (*step)(void *), void *context, int with_latency) {
  struct repeat *out = calloc((size_t)o->repeats, sizeof *out);
  double start = now_ms();
  while (now_ms() - start < o->warmup_ms) step(context);
  for (int i = 0; i < o->repeats; i++) {
    latency_count = 0;
    long ops = 0;
    double t0 = now_ms(), t;
    while ((t = now_ms()) - t0 < o->repeat_ms) ops += step(context);
    out[i].ops = ops;
    out[i].ms = t - t0;
    if (with_latency) {
      qsort(latencies, (size_t)latency_count, sizeof(double), compare_doubles);
      out[i].p50_us = percentile(0.50);
      out[i].p99_us = percentile(0.99);
    }
  }
  print_repeats(out, o->repeats, with_latency);
  free(out);
}

/* ------------------------------------------------------------------------------------------
 * Servers of one connection at a time, blocking: latency (echo), throughput and fds (count,
 * close received descriptors, acknowledge every `batch` messages). */

static void serve_echo(const struct options *o, int fd) {
  if (o->seqpacket) {
    unsigned char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0 && send_all(fd, buf, (size_t)n) == 0) {
    }
    return;
  }
  struct reader r;
  reader_init(&r, fd, 256 * 1024);
  unsigned char *payload;
  int fds[MAX_FDS], nfds;
  long length;
  while ((length = read_frame(&r, &payload, fds, &nfds)) >= 0) {
    if (send_frame(fd, payload, (uint32_t)length, NULL, 0) < 0) break;
  }
  free(r.buf);
}

static void serve_sink(const struct options *o, int fd) {
  struct reader r;
  reader_init(&r, fd, 256 * 1024 + 2 * (HEADER_BYTES + o->size));
  unsigned char *payload;
  int fds[MAX_FDS], nfds;
  long received = 0;
  while (read_frame(&r, &payload, fds, &nfds) >= 0) {
    close_received(fds, nfds);
    if (++received % o->batch == 0 && send_frame(fd, "k", 1, NULL, 0) < 0) break;
  }
  free(r.buf);
}

/* accept: the peer's uid (SO_PEERCRED) must be ours; either way the connection is closed. */
static long serve_accept(int listener) {
  uid_t self = geteuid();
  long authorized = 0;
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept4");
    }
    struct ucred peer;
    socklen_t length = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) < 0) die("getsockopt(SO_PEERCRED)");
    if (peer.uid == self || self == 0) authorized++;
    close(fd);
  }
  return authorized;
}

/* ------------------------------------------------------------------------------------------
 * The epoll server of many connections: concurrent (echo every frame), idle and messages
 * (count frames; answer measurement requests). A measurement request is a frame whose payload
 * is "M c=<connections> m=<messages>": it is answered once that many connections were accepted
 * and that many other frames received; the runner then reads /proc/<pid> of this server. */

struct conn {
  struct reader *reader; /* allocated at the first byte: an idle connection costs nothing here */
};

struct measurement {
  int fd;
  long conns, messages;
};

static void serve_many(const struct options *o, int listener) {
  int echo = is(o, "concurrent");
  struct conn *conns = calloc(MAX_CONN_FD, sizeof *conns);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0 || conns == NULL) die("epoll_create1");
  set_nonblocking(listener);
  struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &event) < 0) die("epoll_ctl");
  long accepted = 0, messages = 0;
  struct measurement pending = {-1, 0, 0};
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int c;
        while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if (c >= MAX_CONN_FD) die("descriptor number too large");
          struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
          if (epoll_ctl(epfd, EPOLL_CTL_ADD, c, &e) < 0) die("epoll_ctl");
          accepted++;
        }
        if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) die("accept4");
        continue;
      }
      struct conn *conn = &conns[fd];
      if (conn->reader == NULL) {
        conn->reader = malloc(sizeof *conn->reader);
        if (conn->reader == NULL) die("malloc");
        reader_init(conn->reader, fd, 64 * 1024);
      }
      long got = reader_fill(conn->reader); /* level-triggered: one read per readiness */
      if (got == 0) {
        close(fd);
        free(conn->reader->buf);
        free(conn->reader);
        conn->reader = NULL;
        continue;
      }
      unsigned char *payload;
      uint32_t length;
      int fds[MAX_FDS], nfds;
      while (take_buffered_frame(conn->reader, &payload, &length, fds, &nfds)) {
        close_received(fds, nfds);
        if (length > 0 && payload[0] == 'M') {
          char text[64];
          size_t copy = length < sizeof text - 1 ? length : sizeof text - 1;
          memcpy(text, payload, copy);
          text[copy] = 0;
          pending.fd = fd;
          if (sscanf(text, "M c=%ld m=%ld", &pending.conns, &pending.messages) != 2) die("bad measurement request");
        } else if (echo) {
          send_frame(fd, payload, length, NULL, 0); /* one request in flight: never blocks; a
                                                       peer gone is seen at its next read */
        } else {
          messages++;
        }
      }
    }
    if (pending.fd >= 0 && accepted >= pending.conns && messages >= pending.messages) {
      send_frame(pending.fd, "measured", 8, NULL, 0);
      pending.fd = -1;
    }
  }
}

int run_server(const struct options *o) {
  int listener = listen_on(o->address, o->seqpacket);
  print_ready();
  if (is(o, "accept")) {
    serve_accept(listener);
    return 0;
  }
  if (is(o, "concurrent") || is(o, "idle") || is(o, "messages")) {
    serve_many(o, listener);
    return 0;
  }
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      die("accept4");
    }
    if (is(o, "latency")) serve_echo(o, fd);
    else if (is(o, "throughput") || is(o, "fds")) serve_sink(o, fd);
    else {
      fprintf(stderr, "reference: unknown workload %s\n", o->workload);
      return 2;
    }
    close(fd);
  }
}

/* ------------------------------------------------------------------------------------------
 * Clients. */

struct one {
  const struct options *o;
  int fd;
  struct reader reader;
  unsigned char *payload;
  int sent_fds[MAX_FDS];
};

/* One round trip. */
static long round_trip(void *context) {
  struct one *c = context;
  if (c->o->seqpacket) {
    unsigned char buf[65536];
    send_all(c->fd, c->payload, c->o->size);
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n != (ssize_t)c->o->size) die("recv");
    return 1;
  }
  unsigned char *echo;
  int fds[MAX_FDS], nfds;
  send_frame(c->fd, c->payload, (uint32_t)c->o->size, NULL, 0);
  if (read_frame(&c->reader, &echo, fds, &nfds) != (long)c->o->size) die("echo");
  return 1;
}

/* `batch` messages (with `fds` descriptors each in the fds workload), then the acknowledgement. */
static long one_batch(void *context) {
  struct one *c = context;
  int nfds = is(c->o, "fds") ? c->o->fds : 0;
  for (long i = 0; i < c->o->batch; i++) send_frame(c->fd, c->payload, (uint32_t)c->o->size, c->sent_fds, nfds);
  unsigned char *ack;
  int fds[MAX_FDS], got;
  if (read_frame(&c->reader, &ack, fds, &got) != 1) die("acknowledgement");
  return c->o->batch;
}

static void client_one(const struct options *o) {
  struct one c = {.o = o};
  c.fd = connect_to(o->address, o->seqpacket);
  reader_init(&c.reader, c.fd, 256 * 1024);
  c.payload = calloc(1, o->size + 1);
  if (is(o, "fds")) {
    for (int i = 0; i < o->fds; i++) {
      c.sent_fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (c.sent_fds[i] < 0) die("open /dev/null");
    }
  }
  run_repeats(o, is(o, "latency") ? round_trip : one_batch, &c, 0);
}

/* accept: `window` connections in flight; each is done when the server has closed it. */
struct accepting {
  const struct options *o;
  int epfd, in_flight;
};

static long accept_step(void *context) {
  struct accepting *a = context;
  while (a->in_flight < a->o->window) {
    int fd = connect_to(a->o->address, 0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl");
    a->in_flight++;
  }
  struct epoll_event events[MAX_EVENTS];
  int n = epoll_wait(a->epfd, events, MAX_EVENTS, -1);
  if (n < 0) {
    if (errno == EINTR) return 0;
    die("epoll_wait");
  }
  for (int i = 0; i < n; i++) close(events[i].data.fd); /* the server closed it: EOF */
  a->in_flight -= n;
  return n;
}

static void client_accept(const struct options *o) {
  struct accepting a = {.o = o, .epfd = epoll_create1(EPOLL_CLOEXEC)};
  if (a.epfd < 0) die("epoll_create1");
  run_repeats(o, accept_step, &a, 0);
}

/* concurrent: `conns` connections, each with one request in flight, answered in any order. */
struct many {
  const struct options *o;
  int epfd;
  int *fds;
  struct reader *readers; /* indexed by descriptor number */
  double *sent_at;        /* indexed by descriptor number */
  unsigned char *payload;
};

static long many_step(void *context) {
  struct many *m = context;
  struct epoll_event events[MAX_EVENTS];
  int n = epoll_wait(m->epfd, events, MAX_EVENTS, -1);
  if (n < 0) {
    if (errno == EINTR) return 0;
    die("epoll_wait");
  }
  long done = 0;
  for (int i = 0; i < n; i++) {
    int fd = events[i].data.fd;
    struct reader *r = &m->readers[fd];
    if (reader_fill(r) == 0) die("the server closed a connection");
    unsigned char *payload;
    uint32_t length;
    int fds[MAX_FDS], nfds;
    while (take_buffered_frame(r, &payload, &length, fds, &nfds)) {
      double t = now_ms();
      keep_latency((t - m->sent_at[fd]) * 1000);
      done++;
      m->sent_at[fd] = t;
      send_frame(fd, m->payload, (uint32_t)m->o->size, NULL, 0);
    }
  }
  return done;
}

static void client_concurrent(const struct options *o) {
  struct many m = {.o = o, .epfd = epoll_create1(EPOLL_CLOEXEC)};
  m.fds = calloc((size_t)o->conns, sizeof(int));
  m.readers = calloc(MAX_CONN_FD, sizeof(struct reader));
  m.sent_at = calloc(MAX_CONN_FD, sizeof(double));
  m.payload = calloc(1, o->size + 1);
  if (m.epfd < 0 || m.fds == NULL || m.readers == NULL || m.sent_at == NULL) die("setup");
  for (int i = 0; i < o->conns; i++) {
    int fd = connect_to(o->address, 0);
    if (fd >= MAX_CONN_FD) die("descriptor number too large");
    set_nonblocking(fd);
    reader_init(&m.readers[fd], fd, 4096);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(m.epfd, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl");
    m.fds[i] = fd;
  }
  for (int i = 0; i < o->conns; i++) { /* round robin: one request on each connection */
    m.sent_at[m.fds[i]] = now_ms();
    send_frame(m.fds[i], m.payload, (uint32_t)o->size, NULL, 0);
  }
  run_repeats(o, many_step, &m, 1);
}

/* idle and messages: once the server has what this step sent, the runner measures it. */
static void measure(int control, struct reader *r, long conns, long messages, long at) {
  char request[64];
  int n = snprintf(request, sizeof request, "M c=%ld m=%ld", conns, messages);
  send_frame(control, request, (uint32_t)n, NULL, 0);
  unsigned char *reply;
  int fds[MAX_FDS], nfds;
  if (read_frame(r, &reply, fds, &nfds) < 0) die("measurement reply");
  printf("{\"sample\":%ld}\n", at);
  fflush(stdout);
  wait_for_go();
}

static void client_memory(const struct options *o) {
  struct reader r;
  int control = connect_to(o->address, 0);
  reader_init(&r, control, 4096);
  if (is(o, "idle")) {
    measure(control, &r, 1, 0, 0);
    int *idle = calloc((size_t)o->conns, sizeof(int));
    for (int step = 1, opened = 0; step <= o->steps; step++) {
      int target = (int)((long)o->conns * step / o->steps);
      while (opened < target) idle[opened++] = connect_to(o->address, 0);
      measure(control, &r, 1 + opened, 0, opened);
    }
  } else {
    int data = connect_to(o->address, 0);
    unsigned char *payload = calloc(1, o->size + 1);
    measure(control, &r, 2, 0, 0);
    for (long step = 1, sent = 0; step <= o->steps; step++) {
      long target = o->count * step / o->steps;
      for (; sent < target; sent++) send_frame(data, payload, (uint32_t)o->size, NULL, 0);
      measure(control, &r, 2, sent, sent);
    }
  }
  printf("{\"done\":true}\n");
  fflush(stdout);
}

int run_client(const struct options *o) {
  print_ready();
  wait_for_go();
  if (is(o, "latency") || is(o, "throughput") || is(o, "fds")) client_one(o);
  else if (is(o, "accept")) client_accept(o);
  else if (is(o, "concurrent")) client_concurrent(o);
  else if (is(o, "idle") || is(o, "messages")) client_memory(o);
  else {
    fprintf(stderr, "reference: unknown workload %s\n", o->workload);
    return 2;
  }
  return 0;
}
