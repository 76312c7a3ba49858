/**
 * The machinery behind `Connection`: non-blocking reads drained until EAGAIN when the
 * consumer pulls, a FIFO write queue flushed on EPOLLOUT, and the ledger of received
 * descriptors nobody has claimed yet.
 *
 * @internal
 */
import { Cause, Effect, Sink, Stream } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Address from "../Address.ts"
import type { Connection, ConnectionOptions, Framing, SocketType } from "../Connection.ts"
import { defaultLimits } from "../Connection.ts"
import type { Credentials, PeerCredentials } from "../Credentials.ts"
import * as Errors from "../Errors.ts"
import { Fd, type FdOwner } from "../Fd.ts"
import type { Message, Outgoing } from "../Message.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"
import { errorFromErrno } from "./errno.ts"
import { encodeFrame, type Frame, FrameDecoder, MAX_FDS_PER_FRAME } from "./framing.ts"
import type { Watch } from "./reactor.ts"

const encoder = new TextEncoder()
const EMPTY_BYTES = new Uint8Array(0)
const NO_FDS: ReadonlyArray<Fd> = Object.freeze([])
/** Reads per drain before yielding to other work, and bytes per drain. */
const DRAIN_READS = 64
const DRAIN_BYTES = 1 << 20

interface SendEntry {
  readonly data: Uint8Array
  offset: number
  fds: Int32Array | null
  /** Whether `fds` are our own duplicates (queued sends) that we must close. */
  ownsFds: boolean
  credentials: Int32Array | null
  readonly shutdown: boolean
  resume: ((effect: Effect.Effect<void, Errors.ConnectionError>) => void) | undefined
}

type Attempt = "done" | "partial" | "again" | Errors.ConnectionError

type Terminal = Errors.ConnectionError | "eof"

/** Reads SO_PEERCRED. */
export const readPeer = (driver: UnixDriverShape, fd: number): PeerCredentials | Errors.UnixError => {
  const out = new Int32Array(3)
  const result = driver.binding.getpeercred(fd, out)
  if (result < 0) return errorFromErrno(driver.binding, -result, "getsockopt(SO_PEERCRED)")
  // uid and gid are unsigned in the kernel; the Int32Array shows values of 2^31 and up as negative.
  return { pid: out[0]!, uid: out[1]! >>> 0, gid: out[2]! >>> 0 }
}

const addressBuffer = new Uint8Array(110)

export const socketAddress = (driver: UnixDriverShape, fd: number, which: "local" | "remote"): Address.Address => {
  const length = which === "local"
    ? driver.binding.getsockname(fd, addressBuffer)
    : driver.binding.getpeername(fd, addressBuffer)
  return Address.fromBytes(length > 0 ? addressBuffer.slice(0, length) : EMPTY_BYTES)
}

export class SocketConnection implements Connection, FdOwner {
  readonly type: SocketType
  readonly framing: Framing
  readonly fd: number
  readonly peer: PeerCredentials
  readonly localAddress: Address.Address
  readonly remoteAddress: Address.Address
  readonly messages: Stream.Stream<Message, Errors.ConnectionError>
  readonly sink: Sink.Sink<void, Outgoing, never, Errors.ConnectionError>

  readonly #driver: UnixDriverShape
  readonly #watch: Watch
  readonly #limits: typeof defaultLimits
  readonly #decoder: FrameDecoder | undefined
  readonly #unclaimed = new Set<Fd>()
  readonly #onClose: (() => void) | undefined
  #ready: Array<Message> = []
  #terminal: Terminal | undefined
  #queue: Array<SendEntry> = []
  #writeError: Errors.ConnectionError | undefined
  #closed = false

  constructor(
    driver: UnixDriverShape,
    fd: number,
    type: SocketType,
    peer: PeerCredentials,
    options: ConnectionOptions & { readonly onClose?: () => void } = {}
  ) {
    this.#driver = driver
    this.fd = fd
    this.type = type
    this.peer = peer
    this.framing = type === "stream" ? options.framing ?? "length-prefixed" : "raw"
    this.#limits = { ...defaultLimits, ...definedOnly(options.limits) } as typeof defaultLimits
    this.#decoder = this.framing === "length-prefixed" && type === "stream"
      ? new FrameDecoder(this.#limits.maxMessageBytes)
      : undefined
    this.#onClose = options.onClose
    this.localAddress = socketAddress(driver, fd, "local")
    this.remoteAddress = socketAddress(driver, fd, "remote")
    if (options.passCredentials) {
      driver.binding.setsockoptInt(fd, driver.binding.constants.SO_PASSCRED, 1)
    }
    this.#watch = driver.reactor.register(fd)
    driver.reactor.retain()
    this.messages = Stream.fromPull(Effect.succeed(this.#pull))
    this.sink = Sink.forEach((message: Outgoing) => this.send(message))
  }

  get unclaimedFds(): number {
    return this.#unclaimed.size
  }

  get isClosed(): boolean {
    return this.#closed
  }

  /** FdOwner: a received descriptor was closed or taken by the consumer. */
  release(fd: Fd): void {
    this.#unclaimed.delete(fd)
  }

  // ---------------------------------------------------------------------------------------
  // Reading

  readonly #pull: Effect.Effect<NonEmptyReadonlyArray<Message>, Errors.ConnectionError | Cause.Done> = Effect
    .suspend(() => {
      const now = this.#poll()
      if (now !== undefined) return now
      return Effect.callback<NonEmptyReadonlyArray<Message>, Errors.ConnectionError | Cause.Done>((resume) => {
        const retry = (): void => {
          const result = this.#poll()
          if (result !== undefined) resume(result)
          else this.#watch.whenReadable(retry)
        }
        this.#watch.whenReadable(retry)
        return Effect.sync(() => this.#watch.cancelReadable())
      })
    })

  /** What a pull returns now, or undefined when it must wait for the socket. */
  #poll(): Effect.Effect<NonEmptyReadonlyArray<Message>, Errors.ConnectionError | Cause.Done> | undefined {
    if (this.#ready.length === 0 && this.#terminal === undefined) {
      if (this.#closed) this.#terminal = closedError("recvmsg")
      else this.#drain()
    }
    if (this.#ready.length > 0) {
      const batch = this.#ready as unknown as NonEmptyReadonlyArray<Message>
      this.#ready = []
      return Effect.succeed(batch)
    }
    const terminal = this.#terminal
    if (terminal === undefined) return undefined
    return terminal === "eof" ? Cause.done() : Effect.fail(terminal)
  }

  /** Reads until EAGAIN (bounded), turning what arrived into messages or a terminal state. */
  #drain(): void {
    const { binding, meta, scratch } = this.#driver
    const c = binding.constants
    let bytes = 0
    for (let reads = 0; reads < DRAIN_READS && bytes < DRAIN_BYTES; reads++) {
      const n = binding.recvmsg(this.fd, scratch, 0, scratch.length, meta, null)
      if (n < 0) {
        if (-n === c.EAGAIN) return
        if (-n === c.EINTR) continue
        this.#terminal = errorFromErrno(binding, -n, "recvmsg") as Errors.ConnectionError
        return
      }
      bytes += n
      const flags = meta[0]!
      const fdCount = meta[1]!
      let fds: Array<number> = fdCount === 0 ? [] : Array.from(meta.subarray(8, 8 + fdCount))
      if ((flags & c.MSG_CTRUNC) !== 0) {
        this.#closeNumbers(fds)
        this.#terminal = new Errors.ControlTruncated({
          message: `recvmsg: control data truncated (MSG_CTRUNC); closed the ${fds.length} descriptors that arrived`,
          syscall: "recvmsg",
          closedFds: fds.length
        })
        return
      }
      if (this.type !== "stream" && (flags & c.MSG_TRUNC) !== 0) {
        this.#closeNumbers(fds)
        this.#terminal = new Errors.MessageTooLarge({
          message: `recvmsg: a ${meta[7]}-byte message did not fit the ${scratch.length}-byte receive buffer (MSG_TRUNC)`,
          syscall: "recvmsg",
          size: meta[7]!,
          limit: scratch.length
        })
        return
      }
      if (n === 0 && fdCount === 0) {
        this.#endOfStream()
        return
      }
      if (fdCount > 0) {
        if (this.#limits.maxFdsPerMessage === 0) {
          this.#closeNumbers(fds)
          fds = this.#decoder === undefined ? [] : fds.map(() => -1)
        } else if (this.#decoder === undefined && fdCount > this.#limits.maxFdsPerMessage) {
          this.#closeNumbers(fds)
          this.#terminal = this.#tooManyFds(fdCount, "limits.maxFdsPerMessage", this.#limits.maxFdsPerMessage)
          return
        }
        const held = this.#unclaimed.size + (this.#decoder?.fifo.length ?? 0) + fds.length
        if (held > this.#limits.maxUnclaimedFds) {
          this.#closeNumbers(fds)
          this.#terminal = this.#tooManyFds(held, "limits.maxUnclaimedFds", this.#limits.maxUnclaimedFds)
          return
        }
      }
      const credentials: Credentials | undefined = meta[2] === 1
        ? { pid: meta[3]!, uid: meta[4]! >>> 0, gid: meta[5]! >>> 0 }
        : undefined
      if (this.#decoder === undefined) {
        this.#ready.push(this.#message(scratch.slice(0, n), fds, credentials))
        continue
      }
      for (const fd of fds) this.#decoder.fifo.push(fd)
      const frames: Array<Frame> = []
      const error = this.#decoder.push(scratch.subarray(0, n), frames)
      for (const frame of frames) {
        if (frame.fds.length > this.#limits.maxFdsPerMessage && this.#limits.maxFdsPerMessage > 0) {
          this.#closeNumbers(frame.fds)
          this.#terminal = this.#tooManyFds(frame.fds.length, "limits.maxFdsPerMessage", this.#limits.maxFdsPerMessage)
          return
        }
        this.#ready.push(this.#message(frame.data, frame.fds, credentials))
      }
      if (error !== undefined) {
        this.#terminal = error
        return
      }
    }
  }

  #endOfStream(): void {
    const decoder = this.#decoder
    if (decoder !== undefined && decoder.bufferedBytes > 0) {
      this.#terminal = new Errors.ProtocolError({
        message: `end of stream inside a frame (${decoder.bufferedBytes} bytes of an incomplete frame): the peer stopped mid-frame`
      })
    } else if (decoder !== undefined && decoder.fifo.some((fd) => fd >= 0)) {
      const stray = decoder.fifo.splice(0)
      this.#closeNumbers(stray)
      this.#terminal = new Errors.ProtocolError({
        message: `end of stream with ${stray.length} descriptors that belong to no frame (closed)`
      })
    } else {
      this.#terminal = "eof"
    }
  }

  #message(data: Uint8Array, numbers: ReadonlyArray<number>, credentials: Credentials | undefined): Message {
    let fds = NO_FDS
    if (numbers.length > 0) {
      const owned: Array<Fd> = []
      for (const n of numbers) {
        const fd = new Fd(n, this.#driver, this)
        this.#unclaimed.add(fd)
        owned.push(fd)
      }
      fds = owned
    }
    return credentials === undefined ? { data, fds } : { data, fds, credentials }
  }

  #tooManyFds(count: number, limit: string, value: number): Errors.FdLimit {
    return new Errors.FdLimit({
      message: `${count} received descriptors exceed ${limit} (${value}); the excess was closed and the connection ended`,
      limit: value
    })
  }

  #closeNumbers(numbers: ReadonlyArray<number>): void {
    for (const n of numbers) if (n >= 0) this.#driver.binding.close(n)
  }

  // ---------------------------------------------------------------------------------------
  // Writing

  send = (message: Outgoing): Effect.Effect<void, Errors.ConnectionError> =>
    Effect.suspend(() => {
      const entry = this.#prepare(message)
      if (!("data" in entry)) return Effect.fail(entry)
      return this.#enqueue(entry)
    })

  readonly end: Effect.Effect<void, Errors.ConnectionError> = Effect.suspend(() =>
    this.#enqueue({
      data: EMPTY_BYTES,
      offset: 0,
      fds: null,
      ownsFds: false,
      credentials: null,
      shutdown: true,
      resume: undefined
    })
  )

  #prepare(message: Outgoing): SendEntry | Errors.ConnectionError {
    const outgoing = typeof message === "string" || message instanceof Uint8Array ? { data: message } : message
    const payload = typeof outgoing.data === "string" ? encoder.encode(outgoing.data) : outgoing.data ?? EMPTY_BYTES
    let fds: Int32Array | null = null
    const given = outgoing.fds ?? []
    if (given.length > MAX_FDS_PER_FRAME) {
      return new Errors.FdLimit({
        message: `a message carries at most ${MAX_FDS_PER_FRAME} descriptors (SCM_MAX_FD); got ${given.length}`,
        limit: MAX_FDS_PER_FRAME
      })
    }
    if (given.length > 0) {
      fds = new Int32Array(given.length)
      for (let i = 0; i < given.length; i++) {
        const fd = given[i]!
        if (typeof fd === "number") {
          if (!Number.isInteger(fd) || fd < 0) {
            return new Errors.SystemError({ message: `not a descriptor number: ${fd}`, syscall: "sendmsg" })
          }
          fds[i] = fd
        } else if (!fd.isOpen) {
          return new Errors.Closed({ message: `cannot send ${fd}: it is no longer open`, syscall: "sendmsg" })
        } else {
          fds[i] = fd.value
        }
      }
    }
    let data = payload
    if (this.#decoder !== undefined) {
      if (payload.length > 0xffffffff) {
        return new Errors.MessageTooLarge({ message: `frame payload over 4 GiB`, size: payload.length })
      }
      data = encodeFrame(payload, given.length)
    } else if (this.type === "stream" && payload.length === 0 && fds !== null) {
      return new Errors.ProtocolError({
        message: "a raw STREAM message needs at least one byte of data to carry descriptors"
      })
    }
    let credentials: Int32Array | null = null
    if (outgoing.credentials === true) {
      const b = this.#driver.binding
      credentials = Int32Array.of(b.getpid(), this.#driver.euid, this.#driver.egid)
    } else if (outgoing.credentials !== undefined) {
      const { gid, pid, uid } = outgoing.credentials
      credentials = Int32Array.of(pid, uid, gid)
    }
    return { data, offset: 0, fds, ownsFds: false, credentials, shutdown: false, resume: undefined }
  }

  #enqueue(entry: SendEntry): Effect.Effect<void, Errors.ConnectionError> {
    if (this.#closed) return Effect.fail(closedError("sendmsg"))
    if (this.#writeError !== undefined) return Effect.fail(this.#writeError)
    if (this.#queue.length === 0) {
      const attempt = this.#attempt(entry)
      if (attempt === "done") return Effect.void
      if (typeof attempt !== "string") return Effect.fail(attempt)
      if (attempt === "again") {
        const duplicated = this.#duplicateFds(entry)
        if (duplicated !== undefined) return Effect.fail(duplicated)
      }
    } else {
      const duplicated = this.#duplicateFds(entry)
      if (duplicated !== undefined) return Effect.fail(duplicated)
    }
    this.#queue.push(entry)
    if (this.#queue.length === 1) this.#watch.whenWritable(this.#flush)
    return Effect.callback<void, Errors.ConnectionError>((resume) => {
      entry.resume = resume
      return Effect.sync(() => this.#abandon(entry))
    })
  }

  /** A queued send keeps its own duplicates of the caller's descriptors until sendmsg. */
  #duplicateFds(entry: SendEntry): Errors.ConnectionError | undefined {
    const fds = entry.fds
    if (fds === null || entry.ownsFds) return undefined
    const copies = new Int32Array(fds.length)
    for (let i = 0; i < fds.length; i++) {
      const copy = this.#driver.binding.dup(fds[i]!)
      if (copy < 0) {
        this.#closeNumbers(copies.subarray(0, i) as unknown as ReadonlyArray<number>)
        return errorFromErrno(this.#driver.binding, -copy, "dup") as Errors.ConnectionError
      }
      copies[i] = copy
    }
    entry.fds = copies
    entry.ownsFds = true
    return undefined
  }

  #releaseFds(entry: SendEntry): void {
    if (entry.fds !== null && entry.ownsFds) {
      for (const fd of entry.fds) this.#driver.binding.close(fd)
    }
    entry.fds = null
    entry.ownsFds = false
  }

  #attempt(entry: SendEntry): Attempt {
    const binding = this.#driver.binding
    const c = binding.constants
    if (entry.shutdown) {
      const result = binding.shutdown(this.fd, c.SHUT_WR)
      return result < 0 && -result !== c.ENOTCONN
        ? errorFromErrno(binding, -result, "shutdown") as Errors.ConnectionError
        : "done"
    }
    for (;;) {
      const length = entry.data.length - entry.offset
      const sent = binding.sendmsg(this.fd, entry.data, entry.offset, length, entry.fds, entry.credentials, null)
      if (sent >= 0) {
        // The descriptors and credentials went with the first byte: never send them again.
        this.#releaseFds(entry)
        entry.credentials = null
        entry.offset += sent
        return entry.offset >= entry.data.length ? "done" : "partial"
      }
      if (-sent === c.EINTR) continue
      if (-sent === c.EAGAIN) return "again"
      return errorFromErrno(binding, -sent, "sendmsg") as Errors.ConnectionError
    }
  }

  readonly #flush = (): void => {
    while (this.#queue.length > 0) {
      if (this.#closed) return
      const head = this.#queue[0]!
      const attempt = this.#attempt(head)
      if (attempt === "done") {
        this.#queue.shift()
        head.resume?.(Effect.void)
        continue
      }
      if (attempt === "partial" || attempt === "again") {
        this.#watch.whenWritable(this.#flush)
        return
      }
      if (this.type !== "stream" && attempt._tag === "MessageTooLarge") {
        this.#queue.shift()
        this.#releaseFds(head)
        head.resume?.(Effect.fail(attempt))
        continue
      }
      this.#writeError = attempt
      this.#failQueue(attempt)
      return
    }
  }

  /** An interrupted send: withdraw it if nothing of it went out yet (else it must finish). */
  #abandon(entry: SendEntry): void {
    entry.resume = undefined
    if (entry.offset > 0) return
    const index = this.#queue.indexOf(entry)
    if (index >= 0 && !(index === 0 && entry.shutdown)) {
      this.#queue.splice(index, 1)
      this.#releaseFds(entry)
    }
  }

  #failQueue(error: Errors.ConnectionError): void {
    const queue = this.#queue
    this.#queue = []
    for (const entry of queue) {
      this.#releaseFds(entry)
      entry.resume?.(Effect.fail(error))
    }
  }

  // ---------------------------------------------------------------------------------------
  // Lifetime

  readonly close: Effect.Effect<void> = Effect.sync(() => this.closeNow())

  closeNow(): void {
    if (this.#closed) return
    this.#closed = true
    this.#failQueue(closedError("sendmsg"))
    if (this.#terminal === undefined) this.#terminal = closedError("recvmsg")
    this.#watch.close()
    this.#driver.binding.close(this.fd)
    if (this.#decoder !== undefined) this.#closeNumbers(this.#decoder.fifo.splice(0))
    for (const message of this.#ready) for (const fd of message.fds) fd.close()
    this.#ready = []
    for (const fd of [...this.#unclaimed]) fd.close()
    this.#driver.reactor.release()
    this.#onClose?.()
  }

  handleMessages = <E, R>(
    handler: (message: Message) => Effect.Effect<void, E, R>
  ): Effect.Effect<void, Errors.ConnectionError | E, R> =>
    Stream.runForEach(this.messages, (message) =>
      message.fds.length === 0
        ? handler(message)
        : Effect.ensuring(handler(message), Effect.sync(() => message.fds.forEach((fd) => fd.close()))))
}

const closedError = (syscall: string) => new Errors.Closed({ message: `${syscall}: the connection is closed`, syscall })

const definedOnly = <T extends object>(value: T | undefined): Partial<T> => {
  const out: Partial<T> = {}
  if (value === undefined) return out
  for (const [key, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[key] = v
  return out
}
