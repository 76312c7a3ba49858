/*
 * The C reference of `npm run bench`: every workload with raw syscalls, as fast as a careful C
 * program does it (blocking sockets where one connection is served, epoll where many are).
 * It speaks the SDK's wire format on framed STREAM connections (8-byte header: u32 BE length,
 * u16 BE descriptor count, u16 zero) and the bench's process protocol (see bench/README.md):
 *
 *   reference <server|client> <workload> <socket path> key=value...
 *
 * A server prints {"ready":true} once it listens; a client prints {"ready":true} once started,
 * waits for a line on stdin ("go"), runs, and prints its result as one JSON line.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HEADER_BYTES 8
#define MAX_FDS 253

struct options {
  const char *role;     /* server or client */
  const char *workload; /* latency, throughput, fds, accept, concurrent, idle, messages */
  const char *address;  /* a socket path */
  int seqpacket;        /* type=seqpacket */
  size_t size;          /* payload bytes per message */
  int fds;              /* descriptors per message (fds workload) */
  long batch;           /* messages per acknowledgement (throughput, fds) */
  int window;           /* connections in flight (accept) */
  int conns;            /* connections (concurrent, idle) */
  long count;           /* messages in all (messages) */
  int steps;            /* measurement steps (idle, messages) */
  double warmup_ms;     /* time-boxed warm-up before the repeats */
  double repeat_ms;     /* length of one repeat */
  int repeats;          /* timed repeats */
};

/* One time-boxed repeat: `ops` operations in `ms` milliseconds (and latencies, if kept). */
struct repeat {
  long ops;
  double ms;
  double p50_us, p99_us;
};

/* Frames of one STREAM connection: a receive buffer and the FIFO of received descriptors. */
struct reader {
  int fd;
  unsigned char *buf;
  size_t cap, start, end;
  int fifo[4 * MAX_FDS];
  int fifo_len;
};

/* common.c */
void die(const char *what);
double now_ms(void);
void parse_options(int argc, char **argv, struct options *o);
int listen_on(const char *path, int seqpacket);
int connect_to(const char *path, int seqpacket);
void set_nonblocking(int fd);
void print_ready(void);
void wait_for_go(void);
void print_repeats(const struct repeat *r, int n, int with_latency);

/* Both return 0, or -1 when the peer is gone (EPIPE, ECONNRESET); other errors are fatal. */
int send_all(int fd, const void *data, size_t length);
int send_frame(int fd, const void *payload, uint32_t length, const int *fds, int nfds);
void reader_init(struct reader *r, int fd, size_t cap);
/* Next complete frame (blocking); returns its payload length, or -1 at end of stream.
 * Its descriptors are moved to `fds` (room for MAX_FDS) and their number to `*nfds`. */
long read_frame(struct reader *r, unsigned char **payload, int *fds, int *nfds);
/* Parses one complete frame from what is buffered, without reading: 1, or 0 if none. */
int take_buffered_frame(struct reader *r, unsigned char **payload, uint32_t *length, int *fds, int *nfds);
/* One read into the buffer (descriptors to the FIFO): bytes, 0 at end of stream or reset, -1 EAGAIN. */
long reader_fill(struct reader *r);

int compare_doubles(const void *a, const void *b);
/* Closes received descriptors the fastest way (as the SDK's Fd.closeAll): one close_range(2)
 * per run of consecutive numbers, close(2) for the others. Sorts `fds` in place. */
void close_received(int *fds, int nfds);

/* workloads.c */
int run_server(const struct options *o);
int run_client(const struct options *o);

#endif
