/**
 * Owned file descriptors.
 *
 * An `Fd` owns one descriptor number and closes it exactly once: by `close()`, by
 * `[Symbol.dispose]` (`using fd = …`), by the scope of `Fd.scoped`, or, for a received
 * descriptor nobody claimed, when its connection closes. `take()` hands the number over to the
 * caller (who then owns it and must close it), after which this `Fd` is inert. Nothing in this
 * package closes a number it does not own, so a number the kernel reuses for a fresh `open` is
 * never closed behind the caller's back.
 *
 * Ownership on the wire: sending never transfers ownership (the kernel duplicates the
 * descriptor into the message), so a caller may close its `Fd` as soon as `send` resolves.
 * Received descriptors belong to the receiver.
 *
 * A garbage-collection backstop closes an `Fd` that became unreachable while still open and
 * prints a warning: it is a last resort, never the plan (the process runs out of descriptors
 * long before the collector runs).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Errors from "./Errors.ts"
import type { NativeBinding } from "./internal/binding.ts"
import type { Watch } from "./internal/reactor.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { UnixDriver, type UnixDriverShape } from "./UnixDriver.ts"

/**
 * What a descriptor refers to, from `fstat`.
 *
 * @category models
 * @since 0.1.0
 */
export type FileType = "file" | "directory" | "socket" | "fifo" | "symlink" | "character" | "block" | "unknown"

/**
 * The owner of an `Fd` is told when it stops being unclaimed (closed, taken or disposed), so a
 * connection can count the received descriptors its consumer has not dealt with yet.
 *
 * @internal
 */
export interface FdOwner {
  /** `slot` is the number the owner gave the `Fd` when it made it. */
  readonly release: (fd: Fd, slot: number) => void
}

interface BackstopEntry {
  readonly value: number
  readonly binding: NativeBinding
}

const DEFAULT_CHUNK_BYTES = 64 * 1024

let collectedWhileOpen = 0

/**
 * How many descriptors the garbage-collection backstop has had to close in this realm: each
 * one was a leak in the program (an `Fd` dropped while open). Zero in a correct program.
 *
 * @category diagnostics
 * @since 0.1.0
 */
export const closedByGarbageCollector = (): number => collectedWhileOpen

const backstop = new FinalizationRegistry<BackstopEntry>((entry) => {
  collectedWhileOpen++
  entry.binding.close(entry.value)
  console.warn(
    `unix-socket-fd-passing: file descriptor ${entry.value} was garbage-collected while open and has been closed; ` +
      `close received descriptors (fd.close(), using, Fd.scoped) or set limits.maxFdsPerMessage: 0`
  )
})

/**
 * Flags for `open`.
 *
 * @category models
 * @since 0.1.0
 */
export type OpenFlags = "r" | "r+" | "w" | "w+" | "a" | "a+"

/**
 * Opens `path` (read-only unless `flags` says otherwise; always close-on-exec) and returns the
 * owned `Fd`, ready to hand off. Fails with `AddressNotFound`/`SystemError` (ENOENT),
 * `PermissionDenied` or `FdLimit`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const open = (
  path: string,
  flags: OpenFlags = "r",
  mode = 0o644
): Effect.Effect<Fd, Errors.UnixError, UnixDriver> =>
  UnixDriver.use((driver) =>
    Effect.suspend(() => {
      const c = driver.binding.constants
      const bits = {
        "r": c.O_RDONLY,
        "r+": c.O_RDWR,
        "w": c.O_WRONLY | c.O_CREAT | c.O_TRUNC,
        "w+": c.O_RDWR | c.O_CREAT | c.O_TRUNC,
        "a": c.O_WRONLY | c.O_CREAT | c.O_APPEND,
        "a+": c.O_RDWR | c.O_CREAT | c.O_APPEND
      }[flags]
      const result = driver.binding.open(path, bits, mode)
      if (result < 0) return Effect.fail(errorFromErrno(driver.binding, -result, "open", path))
      return Effect.succeed(new Fd(result, driver))
    }))

/**
 * Takes ownership of a descriptor number the process already has (inherited, or from another
 * API), so it is closed exactly once like any other `Fd`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const adopt = (value: number): Effect.Effect<Fd, never, UnixDriver> =>
  UnixDriver.useSync((driver) => new Fd(value, driver))

/**
 * A new pipe: `[readEnd, writeEnd]`, both owned, blocking, close-on-exec. Handy for handing a
 * child or a peer one end.
 *
 * @category constructors
 * @since 0.1.0
 */
export const pipe = (): Effect.Effect<readonly [Fd, Fd], Errors.UnixError, UnixDriver> =>
  UnixDriver.use((driver) =>
    Effect.suspend(() => {
      const out = new Int32Array(2)
      const result = driver.binding.pipe(out)
      if (result < 0) return Effect.fail(errorFromErrno(driver.binding, -result, "pipe2"))
      return Effect.succeed([new Fd(out[0]!, driver), new Fd(out[1]!, driver)] as const)
    }))

/**
 * Ties an `Fd` to the current scope: it is closed when the scope closes (unless it was closed
 * or taken before).
 *
 * @category resource management
 * @since 0.1.0
 */
export const scoped = (fd: Fd): Effect.Effect<Fd, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.succeed(fd), (fd) => Effect.sync(() => fd.close()))

/** The numbers `Fd.closeAll` closes in one call (one realm's: module state is per realm). */
const closeScratch = new Int32Array(256)

/**
 * Closes the first `count` numbers of `numbers` (negative ones skipped) in one call into the
 * addon; a single one with a plain `close` (the common case of one descriptor per message).
 *
 * @internal
 */
export const closeNumbers = (binding: NativeBinding, numbers: ArrayLike<number>, count = numbers.length): void => {
  if (count === 1) {
    if (numbers[0]! >= 0) binding.close(numbers[0]!)
  } else if (count > 1) {
    binding.closeMany(numbers instanceof Int32Array ? numbers : Int32Array.from(numbers), count)
  }
}

/**
 * An owned file descriptor.
 *
 * @category models
 * @since 0.1.0
 */
export class Fd implements Disposable {
  #value: number
  #state: "open" | "closed" | "taken" = "open"
  #owner: FdOwner | undefined
  readonly #slot: number
  #registered = false
  readonly #driver: UnixDriverShape
  readonly #binding: NativeBinding

  /** Opens a file for hand-off: see the module's `open`. */
  static readonly open = open
  /** Takes ownership of a number the process already has: see `adopt`. */
  static readonly adopt = adopt
  /** Closes the `Fd` when the current scope closes: see `scoped`. */
  static readonly scoped = scoped
  /** A new pipe, both ends owned: see `pipe`. */
  static readonly pipe = pipe
  /** How many descriptors the garbage-collection backstop closed: see `closedByGarbageCollector`. */
  static readonly closedByGarbageCollector = closedByGarbageCollector

  /**
   * Closes every `Fd` of `fds` that is still open, as `close()` on each would, in one call
   * into the addon: one `close_range(2)` per run of consecutive numbers (the descriptors of one
   * received message usually are), where `close()` on each makes a system call each. `Fd`s
   * already closed or taken are skipped. A message handler that is done with all of a
   * message's descriptors: `Fd.closeAll(message.fds)`.
   */
  static closeAll(fds: Iterable<Fd>): void {
    let binding: NativeBinding | undefined
    let count = 0
    for (const fd of fds) {
      if (fd.#state !== "open") continue
      if (fd.#binding !== binding || count === closeScratch.length) {
        if (count > 0) closeNumbers(binding!, closeScratch, count)
        binding = fd.#binding
        count = 0
      }
      fd.#state = "closed"
      if (fd.#registered) backstop.unregister(fd)
      fd.#driver.reactor.closing(fd.#value)
      closeScratch[count++] = fd.#value
      fd.#releaseOwner()
    }
    if (count > 0) closeNumbers(binding!, closeScratch, count)
  }

  /** @internal use `Fd.open`, `Fd.adopt` or a received message */
  constructor(value: number, driver: UnixDriverShape, owner?: FdOwner, slot = -1) {
    this.#value = value
    this.#driver = driver
    this.#binding = driver.binding
    this.#owner = owner
    this.#slot = slot
    // An owned Fd (a received one, held by its endpoint's ledger until it is closed or taken)
    // can never be collected while open: the ledger closes what is left when the endpoint
    // closes. Only Fds nobody else tracks need the backstop (its weak cell per descriptor is
    // most of the cost of receiving descriptors).
    if (owner === undefined) {
      this.#registered = true
      backstop.register(this, { value, binding: driver.binding }, this)
    }
  }

  /**
   * The descriptor number, for handing to APIs that take one (`fs.readSync(fd.value, …)`,
   * `new net.Socket({ fd: fd.value })`). Throws if this `Fd` was closed or taken: using a
   * stale number could reach an unrelated file the kernel gave the number to since.
   */
  get value(): number {
    if (this.#state !== "open") {
      throw new Errors.Closed({ message: `Fd ${this.#value} is ${this.#state}; its number may belong to another file now` })
    }
    return this.#value
  }

  /** Whether this `Fd` still owns its descriptor. */
  get isOpen(): boolean {
    return this.#state === "open"
  }

  /** Closes the descriptor. Calling it again, or after `take()`, does nothing. */
  close(): void {
    if (this.#state !== "open") return
    this.#state = "closed"
    if (this.#registered) backstop.unregister(this)
    this.#driver.reactor.closing(this.#value)
    this.#binding.close(this.#value)
    this.#releaseOwner()
  }

  /**
   * Gives up ownership and returns the number: the caller now owns the descriptor (hand it to
   * a runtime API that closes it, such as `net.Socket`). This `Fd` no longer closes it.
   */
  take(): number {
    const value = this.value
    this.#state = "taken"
    this.#driver.reactor.closing(value)
    if (this.#registered) backstop.unregister(this)
    this.#releaseOwner()
    return value
  }

  /**
   * A new `Fd` for a duplicate of this descriptor (`F_DUPFD_CLOEXEC`), owned separately.
   * Throws `FdLimit` when the process is out of descriptors.
   */
  dup(): Fd {
    const result = this.#binding.dup(this.value)
    if (result < 0) throw errorFromErrno(this.#binding, -result, "dup")
    return new Fd(result, this.#driver)
  }

  /** What the descriptor refers to (`fstat`). */
  type(): FileType {
    const out = new Float64Array(6)
    const result = this.#binding.fstat(this.value, out)
    if (result < 0) throw errorFromErrno(this.#binding, -result, "fstat")
    return fileTypeOf(this.#binding, out[0]!)
  }

  /**
   * Reads up to `buffer.length` bytes at the descriptor's position (`read(2)`; blocks for a
   * blocking pipe). Returns the count, 0 at end of file. For runtimes whose own file APIs
   * refuse descriptors they did not open.
   */
  read(buffer: Uint8Array): number {
    const result = this.#binding.read(this.value, buffer, 0, buffer.length)
    if (result < 0) throw errorFromErrno(this.#binding, -result, "read")
    return result
  }

  /** Reads until end of file and returns everything read. */
  readAll(): Uint8Array {
    const chunks: Array<Uint8Array> = []
    let total = 0
    for (;;) {
      const chunk = new Uint8Array(65536)
      const n = this.read(chunk)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
    }
    const all = new Uint8Array(total)
    let offset = 0
    for (const chunk of chunks) {
      all.set(chunk, offset)
      offset += chunk.length
    }
    return all
  }

  /** Writes all of `data` (`write(2)`, repeated on short writes). Returns `data.length`. */
  write(data: Uint8Array | string): number {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
    let offset = 0
    while (offset < bytes.length) {
      const result = this.#binding.write(this.value, bytes, offset, bytes.length - offset)
      if (result < 0) throw errorFromErrno(this.#binding, -result, "write")
      offset += result
    }
    return bytes.length
  }

  /**
   * A Web `ReadableStream` of what the descriptor yields until end of file. The stream borrows
   * the descriptor (cancelling it does not close it). Pipes, sockets and character devices are
   * switched to non-blocking mode and read as they become readable, without blocking the
   * thread; regular files are read directly. For runtimes whose file APIs refuse descriptors
   * they did not open (Deno).
   */
  readable(options: { readonly chunkBytes?: number } = {}): ReadableStream<Uint8Array> {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES
    const io = new FdIo(this, this.#driver)
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = new Uint8Array(chunkBytes)
        const n = await io.transfer("read", chunk, 0)
        if (typeof n !== "number") {
          io.done()
          controller.error(n)
        } else if (n === 0) {
          io.done()
          controller.close()
        } else {
          controller.enqueue(chunk.subarray(0, n))
        }
      },
      cancel: () => io.done()
    }, { highWaterMark: 0 })
  }

  /**
   * A Web `WritableStream` that writes each chunk fully to the descriptor. It borrows the
   * descriptor: closing the stream does not close it. Non-blocking as `readable` is.
   */
  writable(): WritableStream<Uint8Array> {
    const io = new FdIo(this, this.#driver)
    return new WritableStream<Uint8Array>({
      write: async (chunk) => {
        let offset = 0
        while (offset < chunk.length) {
          const n = await io.transfer("write", chunk, offset)
          if (typeof n !== "number") throw n
          offset += n
        }
      },
      close: () => io.done(),
      abort: () => io.done()
    })
  }

  [Symbol.dispose](): void {
    this.close()
  }

  toString(): string {
    return `Fd(${this.#value}, ${this.#state})`
  }

  #releaseOwner(): void {
    const owner = this.#owner
    if (owner !== undefined) {
      this.#owner = undefined
      owner.release(this, this.#slot)
    }
  }
}

/**
 * Reads or writes one descriptor for the Web streams: directly for regular files, and for
 * anything pollable in non-blocking mode, parking on the reactor when it would block.
 */
class FdIo {
  readonly #fd: Fd
  readonly #driver: UnixDriverShape
  #watch: Watch | undefined
  #pollable: boolean | undefined

  constructor(fd: Fd, driver: UnixDriverShape) {
    this.#fd = fd
    this.#driver = driver
  }

  async transfer(direction: "read" | "write", data: Uint8Array, offset: number): Promise<number | Errors.UnixError> {
    const b = this.#driver.binding
    const c = b.constants
    for (;;) {
      if (!this.#fd.isOpen) return new Errors.Closed({ message: `${direction}: ${this.#fd} is closed`, syscall: direction })
      const value = this.#fd.value
      if (this.#pollable === undefined) this.#pollable = this.#makePollable(value)
      const n = direction === "read"
        ? b.read(value, data, offset, data.length - offset)
        : b.write(value, data, offset, data.length - offset)
      if (n >= 0) return n
      if (-n === c.EINTR) continue
      if (-n !== c.EAGAIN || !this.#pollable) return errorFromErrno(b, -n, direction)
      await this.#wait(value, direction)
    }
  }

  /** Switches pipes, sockets and character devices to non-blocking mode. */
  #makePollable(value: number): boolean {
    const b = this.#driver.binding
    const stat = new Float64Array(6)
    if (b.fstat(value, stat) < 0) return false
    const type = fileTypeOf(b, stat[0]!)
    if (type !== "fifo" && type !== "socket" && type !== "character") return false
    const flags = b.getfl(value)
    return flags >= 0 && b.setfl(value, flags | b.constants.O_NONBLOCK) >= 0
  }

  #wait(value: number, direction: "read" | "write"): Promise<void> {
    const watch = this.#watch ??= this.#driver.reactor.register(value)
    const reactor = this.#driver.reactor
    reactor.retain() // a pending read or write keeps the process alive, like any open socket
    return new Promise<void>((resolve) => {
      const wake = () => {
        reactor.release()
        resolve()
      }
      if (direction === "read") watch.whenReadable(wake)
      else watch.whenWritable(wake)
    })
  }

  done(): void {
    // Once the Fd is closed or taken its watch is closed already (Reactor.closing): a no-op then.
    this.#watch?.close()
    this.#watch = undefined
  }
}

/** @internal */
export const fileTypeOf = (binding: NativeBinding, mode: number): FileType => {
  const c = binding.constants
  switch (mode & c.S_IFMT) {
    case c.S_IFREG:
      return "file"
    case c.S_IFDIR:
      return "directory"
    case c.S_IFSOCK:
      return "socket"
    case c.S_IFIFO:
      return "fifo"
    case c.S_IFLNK:
      return "symlink"
    case c.S_IFCHR:
      return "character"
    case c.S_IFBLK:
      return "block"
    default:
      return "unknown"
  }
}
