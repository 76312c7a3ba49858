/**
 * The JS half of the readiness reactor.
 *
 * The addon reports "this descriptor is ready" once per arming: from its epoll thread
 * (EPOLLONESHOT) in every runtime, or, in Node.js, from libuv poll handles on the realm's own
 * event loop (no thread hop; see `RuntimeHooks.eventLoop`).
 * Here each socket gets a `Watch` with a token; a reader or writer that hit EAGAIN parks one
 * callback on it and the watch arms the interest that is still wanted. Nothing is armed while
 * nobody waits, so a consumer that stops pulling stops the reads (pull-based backpressure).
 *
 * Liveness: every open socket retains the reactor; while any is retained the thread-safe
 * function is referenced and keeps the process alive. Closing the last lets the process exit.
 *
 * @internal
 */
import { resumeOutsideAsyncContext } from "./asyncContext.ts"
import type { NativeBinding } from "./binding.ts"

export class Reactor {
  readonly #binding: NativeBinding
  readonly #watches = new Map<number, Watch>()
  /** The watch of each descriptor number, to stop it before the number is closed. */
  readonly #byFd = new Map<number, Watch>()
  #nextToken = 1
  #retained = 0
  /** Where readiness comes from: the addon's epoll thread, or the runtime's libuv loop. */
  readonly mode: "thread" | "event-loop"
  /** Whether fibers woken by readiness resume outside their captured async context (Deno; see ./asyncContext.ts). */
  readonly resumesOutsideAsyncContext: boolean

  /**
   * Starts the addon's reactor (once per addon instance): on the runtime's libuv loop when
   * `eventLoop` is asked for and the process has libuv, else an epoll thread; see
   * `RuntimeHooks`.
   */
  constructor(binding: NativeBinding, redeliverMs = 0, eventLoop = false, outsideAsyncContext = false) {
    this.#binding = binding
    this.resumesOutsideAsyncContext = outsideAsyncContext
    let result = eventLoop ? binding.reactorStart(this.#fire, 0, 1) : -binding.constants.ENOSYS
    this.mode = result === 0 ? "event-loop" : "thread"
    if (result === -binding.constants.ENOSYS) result = binding.reactorStart(this.#dispatch, redeliverMs, 0)
    if (result < 0) {
      throw new Error(`unix-socket-fd-passing: cannot start the epoll reactor: ${binding.strerror(-result)}`)
    }
  }

  /** Starts watching `fd`; nothing is armed until a reader or writer waits. */
  register(fd: number): Watch {
    let token = this.#nextToken
    this.#nextToken = token >= 0x7fffffff ? 1 : token + 1
    while (this.#watches.has(token)) token++
    const watch = new Watch(this, this.#binding, fd, token)
    this.#watches.set(token, watch)
    this.#byFd.set(fd, watch)
    return watch
  }

  /**
   * Stops watching `fd`, if anything does, before the caller closes or gives away the number
   * (a closed number may be reused at once, and libuv must never poll a stale one).
   */
  closing(fd: number): void {
    this.#byFd.get(fd)?.close()
  }

  /** @internal */
  forget(watch: Watch): void {
    this.#watches.delete(watch.token)
    if (this.#byFd.get(watch.fd) === watch) this.#byFd.delete(watch.fd)
  }

  /** An open socket keeps the process alive. */
  retain(): void {
    if (this.#retained++ === 0) this.#binding.ref()
  }

  release(): void {
    if (--this.#retained === 0) this.#binding.unref()
  }

  readonly #dispatch = (events: Int32Array): void => {
    for (let i = 0; i + 1 < events.length; i += 2) {
      this.#watches.get(events[i]!)?.fire(events[i + 1]!)
    }
  }

  readonly #fire = (token: number, events: number): void => {
    this.#watches.get(token)?.fire(events)
  }
}

export class Watch {
  readonly #reactor: Reactor
  readonly #binding: NativeBinding
  readonly fd: number
  readonly token: number
  #onReadable: (() => void) | undefined
  #onWritable: (() => void) | undefined
  #closed = false
  /** Whether epoll has the fd (armed at least once): never-armed ones need no EPOLL_CTL_DEL. */
  #added = false

  constructor(reactor: Reactor, binding: NativeBinding, fd: number, token: number) {
    this.#reactor = reactor
    this.#binding = binding
    this.fd = fd
    this.token = token
  }

  /** Calls `callback` once when the fd is readable, hung up or in error. */
  whenReadable(callback: () => void): void {
    this.#onReadable = callback
    this.#arm()
  }

  /** Calls `callback` once when the fd is writable, hung up or in error. */
  whenWritable(callback: () => void): void {
    this.#onWritable = callback
    this.#arm()
  }

  /**
   * The `resume` of an `Effect.callback` that waits on this socket, as the driver wants fibers
   * resumed (call it in the register function, where the waiting fiber is current).
   */
  resumer<T>(resume: (value: T) => void): (value: T) => void {
    return this.#reactor.resumesOutsideAsyncContext ? resumeOutsideAsyncContext(resume) : resume
  }

  cancelReadable(): void {
    this.#onReadable = undefined
  }

  cancelWritable(): void {
    this.#onWritable = undefined
  }

  /** @internal called by the reactor with the epoll bits of one event */
  fire(events: number): void {
    const c = this.#binding.constants
    const failed = (events & (c.EPOLLERR | c.EPOLLHUP)) !== 0
    const read = this.#onReadable
    const write = this.#onWritable
    const wakeReader = read !== undefined && (failed || (events & (c.EPOLLIN | c.EPOLLRDHUP)) !== 0)
    const wakeWriter = write !== undefined && (failed || (events & c.EPOLLOUT) !== 0)
    if (wakeReader) this.#onReadable = undefined
    if (wakeWriter) this.#onWritable = undefined
    // Re-arm what is still wanted before running callbacks, which may wait again themselves.
    if (this.#onReadable !== undefined || this.#onWritable !== undefined) this.#arm()
    if (wakeReader) read!()
    if (wakeWriter) write!()
  }

  /**
   * Stops watching (before the fd is closed or handed on: `Fd.close` and `Fd.take` see to it
   * through `Reactor.closing`) and wakes any waiter so it sees the close. Calling it again does
   * nothing.
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#added) this.#binding.unwatch(this.fd)
    this.#reactor.forget(this)
    const read = this.#onReadable
    const write = this.#onWritable
    this.#onReadable = undefined
    this.#onWritable = undefined
    read?.()
    write?.()
  }

  #arm(): void {
    if (this.#closed) return
    const c = this.#binding.constants
    const interest = (this.#onReadable !== undefined ? c.EPOLLIN : 0) | (this.#onWritable !== undefined ? c.EPOLLOUT : 0)
    if (interest === 0) return
    const result = this.#binding.watch(this.fd, this.token, interest, this.#added ? 1 : 0)
    if (result === 0) this.#added = true
    else {
      // The fd cannot be watched (closed under us): wake the waiters; their next syscall
      // reports the real error.
      queueMicrotask(() => this.fire(c.EPOLLERR))
    }
  }
}
