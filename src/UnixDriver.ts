/**
 * The driver: the one service every part of the core needs.
 *
 * It bundles the native addon's syscalls, the readiness reactor built on the addon's epoll
 * thread, and the receive buffer every socket of this realm reads into (JS is single-threaded,
 * so one buffer serves all; bytes are copied out before anything else runs). Each runtime
 * adapter loads the addon its own way and provides this service: `NodeUnix.layer`,
 * `BunUnix.layer`, `DenoUnix.layer`. The core never imports a runtime.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import { type NativeBinding, RECV_META_LENGTH } from "./internal/binding.ts"
import { LendingBuffer } from "./internal/lending.ts"
import { SMALL_COPY_BYTES } from "./internal/framing.ts"
import { Reactor } from "./internal/reactor.ts"

/**
 * What a driver holds.
 *
 * @category models
 * @since 0.1.0
 */
export interface UnixDriverShape {
  /** The runtime that provided the driver: `"node"`, `"bun"` or `"deno"`. */
  readonly runtime: string
  /** @internal the addon */
  readonly binding: NativeBinding
  /** @internal readiness */
  readonly reactor: Reactor
  /** @internal the shared receive buffer */
  readonly scratch: Uint8Array
  /** @internal the receive buffer `receiveInto` reads into (messages lent until taken) */
  readonly lending: LendingBuffer
  /** @internal the shared `recvmsg` metadata array */
  readonly meta: Int32Array
  /**
   * @internal Memory for received bytes, of unspecified content: the caller writes every byte
   * before anyone sees it (see `RuntimeHooks.allocateUninitialized`).
   */
  readonly allocate: (size: number) => Uint8Array
  /** The process's effective uid and gid, read once. */
  readonly euid: number
  readonly egid: number
  /** Reads a variable of the process environment. */
  readonly getenv: (name: string) => string | undefined
  /**
   * Removes a variable from the process environment and from the runtime's own view of it
   * (a runtime may keep a copy, which its child processes would inherit).
   */
  readonly unsetenv: (name: string) => void
}

/**
 * What an adapter adds to the driver for its runtime.
 *
 * @category models
 * @since 0.1.0
 */
export interface RuntimeHooks {
  /** Reads the runtime's own copy of the environment, if it keeps one (default: the process's). */
  readonly getenv?: ((name: string) => string | undefined) | undefined
  /** Removes a variable from the runtime's own copy of the environment, if it keeps one. */
  readonly unsetenv?: ((name: string) => void) | undefined
  /**
   * For a runtime whose thread-safe functions can miss a wake-up (a readiness event queued for
   * JS that runs only when something else wakes the loop): after this many milliseconds with an
   * event still undelivered, the reactor posts an empty one to wake the loop again. 0 or
   * undefined: never.
   */
  readonly redeliverMs?: number | undefined
  /**
   * Node.js only: take readiness from the runtime's own libuv loop (a poll handle per socket)
   * instead of the addon's epoll thread, saving a thread hop per event. Never set it in Bun
   * (uv_poll_init aborts the process) or Deno (no libuv loop); without libuv in the process the
   * thread is used.
   */
  readonly eventLoop?: boolean | undefined
  /**
   * Memory for `size` bytes that need not be zeroed first: received messages of 1 KiB and more
   * are copied into it, and frames that span reads assembled in it, writing every byte before
   * anyone sees it. A zero-filled `new Uint8Array` writes a large buffer twice; a runtime that
   * can skip that (Node.js) provides this.
   */
  readonly allocateUninitialized?: ((size: number) => Uint8Array) | undefined
  /**
   * Deno only: a fiber woken by a socket resumes in the context of the wake-up instead of
   * entering the `AsyncResource` effect captured when it suspended. In Deno 2.9 each such
   * resource keeps the one before it alive (a chain as long as the fiber's waits); this ends
   * the chain at every socket wait. See src/internal/asyncContext.ts.
   */
  readonly resumeOutsideAsyncContext?: boolean | undefined
}

/**
 * The driver service.
 *
 * @category services
 * @since 0.1.0
 */
export class UnixDriver extends Context.Service<UnixDriver, UnixDriverShape>()("unix-socket-fd-passing/UnixDriver") {}

/**
 * The size of the shared receive buffer: one read takes at most this much.
 *
 * @category constants
 * @since 0.1.0
 */
export const RECEIVE_BUFFER_BYTES = 256 * 1024

/**
 * Builds a driver over a loaded addon. Adapters call this once per realm (main thread or
 * worker) and cache the result.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (binding: NativeBinding, runtime: string, hooks: RuntimeHooks = {}): UnixDriverShape =>
  UnixDriver.of({
    runtime,
    binding,
    reactor: new Reactor(binding, hooks.redeliverMs ?? 0, hooks.eventLoop ?? false, hooks.resumeOutsideAsyncContext ?? false),
    scratch: new Uint8Array(RECEIVE_BUFFER_BYTES),
    lending: new LendingBuffer(RECEIVE_BUFFER_BYTES),
    meta: new Int32Array(RECV_META_LENGTH),
    allocate: allocator(hooks.allocateUninitialized),
    euid: binding.geteuid(),
    egid: binding.getegid(),
    getenv: hooks.getenv ?? ((name) => binding.getenv(name)),
    unsetenv: (name) => {
      binding.unsetenv(name)
      hooks.unsetenv?.(name)
    }
  })

const allocator = (uninitialized: ((size: number) => Uint8Array) | undefined): (size: number) => Uint8Array =>
  uninitialized === undefined
    ? (size) => new Uint8Array(size)
    : (size) => size < SMALL_COPY_BYTES ? new Uint8Array(size) : uninitialized(size)
