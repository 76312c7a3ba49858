/**
 * The shape of the native addon (`native/`, built to `build/Release/unix_socket.node`).
 *
 * Every syscall wrapper is thin and errno-honest: it returns a non-negative result on success
 * and `-errno` on failure, and never throws for a failed syscall (it throws a `TypeError` only
 * when called with arguments of the wrong type). Every descriptor the addon creates is
 * `O_CLOEXEC`; every socket it creates or accepts is `O_NONBLOCK`.
 *
 * Readiness comes from ONE epoll thread per addon instance (per JS realm: main thread or
 * worker), registered with `EPOLLONESHOT`: after an event for a descriptor is delivered, that
 * descriptor is silent until `watch` arms it again. Events reach JS through a thread-safe
 * function, batched: the callback receives a flat `Int32Array` of `[token, events, token,
 * events, …]` where `token` is the caller's number given to `watch` and `events` the epoll bits.
 *
 * This file only describes the addon; `src/` never loads it. Adapters load it the way their
 * runtime can and pass it to `makeDriver`.
 *
 * @internal
 */
export interface NativeBinding {
  readonly constants: NativeConstants

  /** `socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)` → fd or -errno. */
  socket(type: number): number
  /**
   * `bind(fd, sockaddr_un)`. `address` holds exactly the `sun_path` bytes to use: a filesystem
   * path without a trailing NUL, or an abstract name whose first byte is 0. The addrlen passed
   * to the kernel is `offsetof(sun_path) + address.length` (+1 for the NUL of a filesystem
   * path). An empty `address` autobinds. → 0 or -errno (-ENAMETOOLONG when over 108 bytes).
   */
  bind(fd: number, address: Uint8Array): number
  /** `listen(fd, backlog)` → 0 or -errno. */
  listen(fd: number, backlog: number): number
  /**
   * `accept4(fd, …, SOCK_NONBLOCK | SOCK_CLOEXEC)` → new fd or -errno. With `addressLength`,
   * the peer's address (what `getpeername` would give) comes with it: its `sun_path` bytes
   * into `address` (may be null), their length into `addressLength[0]` (0: unnamed).
   */
  accept(fd: number, address?: Uint8Array | null, addressLength?: Int32Array | null): number
  /** `connect(fd, sockaddr_un)`, address encoded as for `bind` → 0 or -errno. */
  connect(fd: number, address: Uint8Array): number
  /**
   * `socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`; the two fds are written to
   * `out[0]` and `out[1]` → 0 or -errno.
   */
  socketpair(type: number, out: Int32Array): number
  /**
   * `pipe2(O_CLOEXEC)` (blocking ends, as a user would hand them to a child) into `out[0]`
   * (read end) and `out[1]` (write end) → 0 or -errno.
   */
  pipe(out: Int32Array): number

  /**
   * `sendmsg(fd, …, MSG_DONTWAIT | MSG_NOSIGNAL)` of `data[offset, offset + length)`.
   * `fds[0, fdCount)`: descriptors to attach as one SCM_RIGHTS cmsg (fdCount 0: none; fds may
   * then be null). A scratch array reused from send to send: a fresh small typed array would
   * be moved out of the JS heap by the addon's first look at it, a malloc per send.
   * `credentials`: `[pid, uid, gid]` to attach as SCM_CREDENTIALS (null: none).
   * `address`: destination (encoded as for `bind`) for unconnected DGRAM sockets (null: none).
   * `head`: bytes sent before the data in the same call, from `headOffset` (null: none).
   * → bytes sent (of head and data together) or -errno.
   */
  sendmsg(
    fd: number,
    data: Uint8Array,
    offset: number,
    length: number,
    fds: Int32Array | null,
    fdCount: number,
    credentials: Int32Array | null,
    address: Uint8Array | null,
    head: Uint8Array | null,
    headOffset: number
  ): number
  /**
   * `recvmsg(fd, …, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)` into `data[offset, offset + length)`, with
   * a control buffer sized for SCM_MAX_FD (253) descriptors plus one `ucred`.
   * Returns the number of bytes received (0 on EOF; for DGRAM/SEQPACKET with MSG_TRUNC the
   * number actually copied) or -errno. Fills `meta` (length ≥ RECV_META_LENGTH):
   *   meta[0] flags as returned by the kernel, MSG_CMSG_CLOEXEC masked out (MSG_TRUNC,
   *           MSG_CTRUNC are what matter)
   *   meta[1] number of descriptors received (all SCM_RIGHTS cmsgs together, even when
   *           MSG_CTRUNC is set: the caller must close them)
   *   meta[2] 1 when SCM_CREDENTIALS was present, else 0
   *   meta[3..5] pid, uid, gid from SCM_CREDENTIALS
   *   meta[6] length of the source address written to `address` (-1 when `address` is null,
   *           0 for an unnamed sender)
   *   meta[7] full length of the datagram when MSG_TRUNC was set (DGRAM/SEQPACKET), else the
   *           return value
   *   meta[8 …] the received descriptors
   * `address` (may be null) receives the sender's `sun_path` bytes for DGRAM, up to 108.
   * For DGRAM and SEQPACKET the call passes MSG_TRUNC so meta[7] holds the real length.
   */
  recvmsg(
    fd: number,
    data: Uint8Array,
    offset: number,
    length: number,
    meta: Int32Array,
    address: Uint8Array | null
  ): number

  /** `getsockopt(SO_PEERCRED)` into `out = [pid, uid, gid]` → 0 or -errno. */
  getpeercred(fd: number, out: Int32Array): number
  /** `getsockname` → writes `sun_path` bytes into `out`, returns their length or -errno. */
  getsockname(fd: number, out: Uint8Array): number
  /** `getpeername` → as `getsockname`. */
  getpeername(fd: number, out: Uint8Array): number
  /**
   * `getsockopt(SOL_SOCKET, name)` for an int option (SO_TYPE, SO_ERROR, SO_SNDBUF, …; also
   * SO_PEERPIDFD, whose value is a new pidfd, close-on-exec, owned by the caller).
   */
  getsockoptInt(fd: number, name: number): number
  /** `setsockopt(SOL_SOCKET, name, value)` for an int option (SO_PASSCRED, SO_SNDBUF, …). */
  setsockoptInt(fd: number, name: number, value: number): number
  /** `shutdown(fd, how)` → 0 or -errno. */
  shutdown(fd: number, how: number): number
  /** `close(fd)` → 0 or -errno (EINTR is treated as success: the fd is gone on Linux). */
  close(fd: number): number
  /**
   * Closes the first `count` numbers of `fds` (sorted in place; negative ones skipped): one
   * `close_range` per run of consecutive numbers, `close` for the others → 0, or -EINVAL for a
   * count beyond the array. Each number must be the caller's to close.
   */
  closeMany(fds: Int32Array, count: number): number
  /** `fcntl(fd, F_DUPFD_CLOEXEC, 0)` → new fd or -errno. */
  dup(fd: number): number
  /** `fcntl(fd, F_GETFL)` and `F_SETFL` (to toggle O_NONBLOCK) → flags / 0 or -errno. */
  getfl(fd: number): number
  setfl(fd: number, flags: number): number
  /** Sets FD_CLOEXEC (`fcntl(F_SETFD)`), for descriptors inherited without it → 0 or -errno. */
  setCloexec(fd: number): number

  /**
   * `fstat(fd)` into `out = [mode, uid, gid, size, dev, ino]` → 0 or -errno.
   * (Float64Array so sizes, devices and inodes over 2^31 survive.)
   */
  fstat(fd: number, out: Float64Array): number
  /** `lstat(path)` (never follows a symlink), same layout as `fstat`. */
  lstat(path: string, out: Float64Array): number
  /** `stat(path)` (follows symlinks), same layout as `fstat`. */
  stat(path: string, out: Float64Array): number
  /** `open(path, flags | O_CLOEXEC, mode)` → fd or -errno. */
  open(path: string, flags: number, mode: number): number
  /** `unlink(path)` → 0 or -errno. */
  unlink(path: string): number
  /** `rename(from, to)` → 0 or -errno. */
  rename(from: string, to: string): number
  /** `chmod(path, mode)` → 0 or -errno. */
  chmod(path: string, mode: number): number
  /**
   * `fchmod(fd, mode)` → 0 or -errno. On a socket not bound yet it sets the mode the socket
   * file gets at `bind` (less the umask), so the file never exists with a wider mode.
   */
  fchmod(fd: number, mode: number): number
  /** `pidfd_send_signal(pidfd, signal, NULL, 0)` → 0 or -errno. */
  pidfdSendSignal(pidfd: number, signal: number): number
  /** `read(fd, data + offset, length)` → bytes or -errno. */
  read(fd: number, data: Uint8Array, offset: number, length: number): number
  /** `write(fd, data + offset, length)` → bytes or -errno. */
  write(fd: number, data: Uint8Array, offset: number, length: number): number

  /** `getenv(name)`: the process environment itself; undefined when unset. */
  getenv(name: string): string | undefined
  /** `unsetenv(name)` → 0 or -errno. */
  unsetenv(name: string): number
  geteuid(): number
  getegid(): number
  getpid(): number
  /** `strerror(errno)`. */
  strerror(errno: number): string
  /** The symbolic name of an errno (`"EAGAIN"`), or `"E<number>"` when unknown. */
  errname(errno: number): string

  /**
   * Starts this instance's reactor and sets the JS callback that receives events (see the file
   * comment). Calling it again replaces nothing and returns -EALREADY.
   * `eventLoop` 0: an epoll thread posting batches `[token, events, …]` (every runtime).
   * `eventLoop` 1: libuv poll handles on the realm's own loop, one call `(token, events)` per
   * event (Node.js only: Bun aborts in uv_poll_init and Deno has no libuv loop); -ENOSYS when
   * the process has no libuv.
   * It starts unreferenced: it does not keep the process alive until `ref()` is called.
   * → 0 or -errno.
   */
  reactorStart(
    onEvents: ((events: Int32Array) => void) | ((token: number, events: number) => void),
    redeliverMs: number,
    eventLoop: number
  ): number
  /**
   * Arms `fd` for one event (`EPOLLONESHOT`) with interest `events` (EPOLLIN and/or EPOLLOUT;
   * EPOLLHUP/EPOLLERR are always reported), tagged with `token`. `added`: whether the fd is
   * registered already (EPOLL_CTL_MOD first, else EPOLL_CTL_ADD first; each falls back to the
   * other). → 0 or -errno.
   */
  watch(fd: number, token: number, events: number, added: number): number
  /** EPOLL_CTL_DEL → 0 or -errno (-ENOENT when it was not registered). */
  unwatch(fd: number): number
  /** Keep the process alive while events may come (thread-safe function Ref). */
  ref(): void
  /** Let the process exit (thread-safe function Unref). */
  unref(): void
}

/** Length of the `meta` array `recvmsg` fills: 8 header slots and room for SCM_MAX_FD fds. */
export const RECV_META_LENGTH = 8 + 253

/** Numeric constants read from the C headers at build time, so JS never guesses them. */
export interface NativeConstants {
  readonly SOCK_STREAM: number
  readonly SOCK_DGRAM: number
  readonly SOCK_SEQPACKET: number
  readonly SCM_MAX_FD: number
  readonly SUN_PATH_MAX: number
  readonly EPOLLIN: number
  readonly EPOLLOUT: number
  readonly EPOLLERR: number
  readonly EPOLLHUP: number
  readonly EPOLLRDHUP: number
  readonly MSG_TRUNC: number
  readonly MSG_CTRUNC: number
  readonly SHUT_RD: number
  readonly SHUT_WR: number
  readonly SHUT_RDWR: number
  readonly SO_TYPE: number
  readonly SO_ERROR: number
  readonly SO_SNDBUF: number
  readonly SO_RCVBUF: number
  readonly SO_PASSCRED: number
  readonly SO_PEERPIDFD: number
  readonly SO_DOMAIN: number
  readonly SO_ACCEPTCONN: number
  readonly AF_UNIX: number
  readonly SIGHUP: number
  readonly SIGINT: number
  readonly SIGQUIT: number
  readonly SIGKILL: number
  readonly SIGUSR1: number
  readonly SIGUSR2: number
  readonly SIGTERM: number
  readonly SIGCONT: number
  readonly SIGSTOP: number
  readonly ESRCH: number
  readonly ENOPROTOOPT: number
  readonly O_RDONLY: number
  readonly O_WRONLY: number
  readonly O_RDWR: number
  readonly O_CREAT: number
  readonly O_EXCL: number
  readonly O_TRUNC: number
  readonly O_APPEND: number
  readonly O_NONBLOCK: number
  readonly O_DIRECTORY: number
  readonly O_NOFOLLOW: number
  readonly S_ISVTX: number
  readonly S_IFMT: number
  readonly S_IFSOCK: number
  readonly S_IFREG: number
  readonly S_IFDIR: number
  readonly S_IFIFO: number
  readonly S_IFLNK: number
  readonly S_IFCHR: number
  readonly S_IFBLK: number
  readonly EAGAIN: number
  readonly EWOULDBLOCK: number
  readonly EINTR: number
  readonly EINPROGRESS: number
  readonly EADDRINUSE: number
  readonly EADDRNOTAVAIL: number
  readonly ENOENT: number
  readonly ECONNREFUSED: number
  readonly ECONNRESET: number
  readonly EPIPE: number
  readonly EACCES: number
  readonly EPERM: number
  readonly ENAMETOOLONG: number
  readonly EMFILE: number
  readonly ENFILE: number
  readonly ENOBUFS: number
  readonly ENOMEM: number
  readonly EMSGSIZE: number
  readonly EBADF: number
  readonly EINVAL: number
  readonly ENOTCONN: number
  readonly ENOTSOCK: number
  readonly ETOOMANYREFS: number
  readonly ENOSYS: number
  readonly ENOTDIR: number
  readonly EISDIR: number
  readonly ELOOP: number
  readonly EEXIST: number
  readonly EALREADY: number
  readonly EPROTOTYPE: number
  readonly EOPNOTSUPP: number
}
