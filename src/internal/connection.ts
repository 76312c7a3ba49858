/**
 * The machinery behind `Connection`: non-blocking reads, drained when the consumer pulls
 * (until EAGAIN or a STREAM read that left the socket empty), a FIFO write queue flushed on
 * EPOLLOUT, and the ledger of received descriptors nobody has claimed yet.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Address from "../Address.ts"
import type { Connection, ConnectionOptions, Framing, SocketType } from "../Connection.ts"
import { defaultLimits } from "../Connection.ts"
import type { Credentials, PeerCredentials } from "../Credentials.ts"
import * as Errors from "../Errors.ts"
import { closeNumbers, Fd } from "../Fd.ts"
import type { Message, Outgoing, Received } from "../Message.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"
import { errorFromErrno } from "./errno.ts"
import { copyBytes, type Frame, FrameDecoder, MAX_FDS_PER_FRAME } from "./framing.ts"
import { FRAMED_STREAM, PACKETS, prepare, RAW_STREAM, SendQueue, shutdownEntry } from "./outgoing.ts"
import type { SocketHandle } from "./peer.ts"
import type { Lender } from "./lending.ts"
import { pollReadable } from "./open.ts"
import type { Watch } from "./reactor.ts"
import { ReadyQueue } from "./ready.ts"
import { NO_FDS, ReceivedFds } from "./received.ts"

const EMPTY_BYTES = new Uint8Array(0)
const NO_NUMBERS: ReadonlyArray<number> = Object.freeze([])
/** Reads per drain before yielding to other work, and bytes per drain. */
const DRAIN_READS = 64
const DRAIN_BYTES = 1 << 20

/** How reading ended: an error, the peer's end of stream, or our own close (its error made on demand). */
type Terminal = Errors.ConnectionError | "eof" | "closed"

const addressBuffer = new Uint8Array(110)
/** The address of an unnamed socket (shared: an address is never changed). */
export const UNNAMED: Address.Address = Object.freeze(Address.fromBytes(EMPTY_BYTES))

export const socketAddress = (driver: UnixDriverShape, fd: number, which: "local" | "remote"): Address.Address => {
  const length = which === "local"
    ? driver.binding.getsockname(fd, addressBuffer)
    : driver.binding.getpeername(fd, addressBuffer)
  return Address.fromBytes(length > 0 ? addressBuffer.slice(0, length) : EMPTY_BYTES)
}

export class SocketConnection implements Connection, Lender {
  readonly type: SocketType
  readonly framing: Framing
  readonly fd: number
  readonly peer: PeerCredentials
  readonly localAddress: Address.Address
  readonly remoteAddress: Address.Address

  readonly #driver: UnixDriverShape
  readonly #watch: Watch
  readonly #limits: typeof defaultLimits
  /** Length-prefixed frames on a STREAM socket: the decoder is made with the first bytes read. */
  readonly #framed: boolean
  // Made on first use: an idle connection a server holds should cost as little as possible.
  #decoder: FrameDecoder | undefined
  #received: ReceivedFds | undefined
  #queue: SendQueue | undefined
  #send: ((message: Outgoing) => Effect.Effect<void, Errors.ConnectionError>) | undefined
  readonly #onClose: ((connection: SocketConnection) => void) | undefined
  readonly #ready = new ReadyQueue<Message>()
  /**
   * How many of the oldest waiting messages are lent: views of the realm's lending buffer or of
   * the decoder's, read for `receiveInto`. They are copied before anyone else reads into those
   * buffers, and before `receive` or `messages` hands one out.
   */
  #lent = 0
  #terminal: Terminal | undefined
  #closed = false

  readonly #socket: SocketHandle

  constructor(
    driver: UnixDriverShape,
    socket: SocketHandle,
    type: SocketType,
    peer: PeerCredentials,
    options: ConnectionOptions & {
      /** Called once when the connection closes or is detached (one callback can serve many connections). */
      readonly onClose?: ((connection: SocketConnection) => void) | undefined
      /** The addresses when the caller knows them already (no `getsockname`/`getpeername`). */
      readonly localAddress?: Address.Address | undefined
      readonly remoteAddress?: Address.Address | undefined
    } = {}
  ) {
    const fd = socket.fd
    this.#driver = driver
    this.#socket = socket
    this.fd = fd
    this.type = type
    this.peer = peer
    this.framing = type === "stream" ? options.framing ?? "length-prefixed" : "raw"
    this.#limits = options.limits === undefined
      ? defaultLimits // shared: most connections take the defaults
      : { ...defaultLimits, ...definedOnly(options.limits) } as typeof defaultLimits
    this.#framed = this.framing === "length-prefixed" && type === "stream"
    this.#onClose = options.onClose
    this.localAddress = options.localAddress ?? socketAddress(driver, fd, "local")
    this.remoteAddress = options.remoteAddress ?? socketAddress(driver, fd, "remote")
    if (options.passCredentials) {
      driver.binding.setsockoptInt(fd, driver.binding.constants.SO_PASSCRED, 1)
    }
    this.#watch = driver.reactor.register(fd)
    driver.reactor.retain()
  }

  #messages: Stream.Stream<Message, Errors.ConnectionError> | undefined
  #sink: Sink.Sink<void, Outgoing, never, Errors.ConnectionError> | undefined
  #receive: Effect.Effect<Message, Errors.ConnectionError | Cause.Done> | undefined

  get messages(): Stream.Stream<Message, Errors.ConnectionError> {
    return this.#messages ??= Stream.fromPull(Effect.succeed(pollReadable(this.#watch, () => this.#poll())))
  }

  get receive(): Effect.Effect<Message, Errors.ConnectionError | Cause.Done> {
    return this.#receive ??= pollReadable<Message, Errors.ConnectionError | Cause.Done>(this.#watch, () => this.#pollOne(Cause.done()))
  }

  /** The last buffer's `receiveInto`: a reader calls it again and again with one buffer. */
  #into: { readonly buffer: Uint8Array; readonly effect: Effect.Effect<Received, Errors.ConnectionError | Cause.Done> } | undefined

  receiveInto(buffer: Uint8Array): Effect.Effect<Received, Errors.ConnectionError | Cause.Done> {
    if (this.#into?.buffer !== buffer) this.#into = { buffer, effect: pollReadable(this.#watch, () => this.#pollInto(buffer)) }
    return this.#into.effect
  }

  get sink(): Sink.Sink<void, Outgoing, never, Errors.ConnectionError> {
    return this.#sink ??= Sink.forEach((message: Outgoing) => this.send(message))
  }

  get unclaimedFds(): number {
    return this.#received === undefined ? 0 : this.#received.size
  }

  get isClosed(): boolean {
    return this.#closed
  }

  // ---------------------------------------------------------------------------------------
  // Reading

  /** What a pull of `messages` returns now (one message), or undefined when it must wait for the socket. */
  #poll(): Effect.Effect<NonEmptyReadonlyArray<Message>, Errors.ConnectionError | Cause.Done> | undefined {
    const message = this.#take()
    return message !== undefined ? Effect.succeed([message] as const) : this.#ending(Cause.done())
  }

  /**
   * The next message for `receive` and `handleMessages`, or `eof` at the end of stream, or
   * undefined when it must wait.
   */
  #pollOne<End>(eof: End): Effect.Effect<Message, Errors.ConnectionError> | End | undefined {
    const message = this.#take()
    return message !== undefined ? Effect.succeed(message) : this.#ending(eof)
  }

  /** The oldest message read and not handed out (its own, never lent), reading first if none is. */
  #take(): Message | undefined {
    if (this.#ready.size === 0 && this.#terminal === undefined) {
      if (this.#closed) this.#terminal = "closed"
      else this.#drain(false)
    }
    const message = this.#ready.take()
    if (message === undefined || this.#lent === 0) return message
    this.#returned()
    return this.#owned(message)
  }

  /**
   * `receiveInto`: copies the next message into `buffer`, reading first (into the lending
   * buffer) if none waits; undefined when it must wait.
   */
  #pollInto(buffer: Uint8Array): Effect.Effect<Received, Errors.ConnectionError | Cause.Done> | undefined {
    if (this.#ready.size === 0 && this.#terminal === undefined) {
      if (this.#closed) this.#terminal = "closed"
      else this.#drain(true)
    }
    const message = this.#ready.peek()
    if (message === undefined) return this.#ending(Cause.done())
    const data = message.data
    if (data.length > buffer.length) {
      if (this.#framed || this.type !== "stream") {
        return Effect.fail(
          new Errors.MessageTooLarge({
            message: `receiveInto: the next message has ${data.length} bytes, more than the ${buffer.length}-byte buffer holds (it stays queued)`,
            size: data.length,
            limit: buffer.length
          })
        )
      }
      // Raw bytes, as read(2) gives them: the rest stays for the next read; the descriptors
      // and credentials come with this part.
      buffer.set(data.subarray(0, buffer.length))
      this.#ready.update(0, (rest) => ({ data: rest.data.subarray(buffer.length), fds: NO_FDS }))
      return Effect.succeed(received(buffer.length, message))
    }
    buffer.set(data)
    this.#ready.take()
    if (this.#lent > 0) this.#returned()
    return Effect.succeed(received(data.length, message))
  }

  /** One lent message was handed out. */
  #returned(): void {
    if (--this.#lent === 0) this.#driver.lending.release(this)
  }

  /** `message` with a copy of its bytes (not a hot path: only when a lent message is taken otherwise). */
  #owned(message: Message): Message {
    return { ...message, data: copyBytes(this.#driver.allocate, message.data, 0, message.data.length) }
  }

  /** Lender: another connection is about to read into the lending buffer. */
  unlend(): void {
    for (let i = 0; i < this.#lent; i++) this.#ready.update(i, (message) => this.#owned(message))
    this.#lent = 0
  }

  /** With no message to hand out: `eof` at the end of stream, the error that ended reading, or undefined (wait). */
  #ending<A>(eof: A): A | Effect.Effect<never, Errors.ConnectionError> | undefined {
    const terminal = this.#terminal
    if (terminal === undefined) return undefined
    if (terminal === "eof") return eof
    return Effect.fail(terminal === "closed" ? (this.#terminal = closedError("recvmsg")) : terminal)
  }

  /**
   * Reads until EAGAIN or a short STREAM read (bounded), turning what arrived into messages or
   * a terminal state. Nothing ever waits for readiness without a read that found EAGAIN.
   *
   * `lend` (for `receiveInto`): reads into the lending buffer and queues views of it instead of
   * copies, and stops after the first read that made a message (the next read would write over
   * it).
   */
  #drain(lend: boolean): void {
    const { binding, meta } = this.#driver
    const c = binding.constants
    const scratch = lend ? this.#driver.lending.claim(this) : this.#driver.scratch
    // A packet (SEQPACKET) longer than maxMessageBytes is cut by the kernel and reported.
    const receiveBytes = this.type === "stream" ? scratch.length : Math.min(scratch.length, this.#limits.maxMessageBytes)
    let bytes = 0
    for (let reads = 0; reads < DRAIN_READS && bytes < DRAIN_BYTES; reads++) {
      // Read no further than the consumer may hold: messages already read go out first, so
      // only descriptors the consumer itself keeps can reach limits.maxUnclaimedFds. (One read
      // can complete frames holding the descriptors waiting in the FIFO plus its own.)
      const waiting = this.#decoder?.waitingFds ?? 0
      if (this.#ready.size > 0 && this.unclaimedFds + waiting + MAX_FDS_PER_FRAME > this.#limits.maxUnclaimedFds) return
      const n = binding.recvmsg(this.fd, scratch, 0, receiveBytes, meta, null)
      if (n < 0) {
        if (-n === c.EAGAIN) return
        if (-n === c.EINTR) continue
        return this.#fail(errorFromErrno(binding, -n, "recvmsg") as Errors.ConnectionError, [])
      }
      bytes += n
      const flags = meta[0]!
      const fdCount = meta[1]!
      let fds: ReadonlyArray<number> = NO_NUMBERS
      if (fdCount > 0) {
        const numbers: Array<number> = []
        for (let i = 0; i < fdCount; i++) numbers.push(meta[8 + i]!)
        fds = numbers
      }
      if ((flags & c.MSG_CTRUNC) !== 0) {
        return this.#fail(
          new Errors.ControlTruncated({
            message: `recvmsg: control data truncated (MSG_CTRUNC: this process could not take them all); closed the ${fds.length} descriptors that arrived`,
            syscall: "recvmsg",
            closedFds: fds.length
          }),
          fds
        )
      }
      if (this.type !== "stream" && (flags & c.MSG_TRUNC) !== 0) {
        return this.#fail(
          new Errors.MessageTooLarge({
            message: `recvmsg: a ${meta[7]}-byte message is larger than the ${receiveBytes}-byte receive buffer (MSG_TRUNC)`,
            syscall: "recvmsg",
            size: meta[7]!,
            limit: receiveBytes
          }),
          fds
        )
      }
      if (n === 0 && fdCount === 0) {
        this.#endOfStream()
        return
      }
      const limits = this.#limits
      const decoder = this.#framed ? this.#decoder ??= new FrameDecoder(limits.maxMessageBytes, this.#driver.allocate) : undefined
      if (fdCount > 0) {
        if (decoder !== undefined && decoder.waitingFds + fdCount > limits.maxFdsInFlight) {
          return this.#fail(this.#tooManyFds(decoder.waitingFds + fdCount, "limits.maxFdsInFlight", limits.maxFdsInFlight), fds)
        }
        if (limits.maxFdsPerMessage === 0) {
          closeNumbers(this.#driver.binding, fds)
          fds = decoder === undefined ? [] : fds.map(() => -1) // still counted, to find their frames
        } else if (decoder === undefined) {
          if (fdCount > limits.maxFdsPerMessage) {
            return this.#fail(this.#tooManyFds(fdCount, "limits.maxFdsPerMessage", limits.maxFdsPerMessage), fds)
          }
          if (this.unclaimedFds + fdCount > limits.maxUnclaimedFds) {
            return this.#fail(this.#tooManyFds(this.unclaimedFds + fdCount, "limits.maxUnclaimedFds", limits.maxUnclaimedFds), fds)
          }
        }
      }
      const credentials: Credentials | undefined = meta[2] === 1
        ? { pid: meta[3]!, uid: meta[4]! >>> 0, gid: meta[5]! >>> 0 }
        : undefined
      if (decoder === undefined) {
        const data = lend ? scratch.subarray(0, n) : copyBytes(this.#driver.allocate, scratch, 0, n)
        this.#ready.push(this.#message(data, fds, credentials))
        if (lend) {
          this.#lent++
          return
        }
      } else {
        if (fds.length > 0) decoder.addFds(fds)
        const frames: Array<Frame> = []
        const error = decoder.push(scratch, n, frames, lend)
        for (let i = 0; i < frames.length; i++) {
          const count = frames[i]!.fds.length
          const excess = count > limits.maxFdsPerMessage
            ? this.#tooManyFds(count, "limits.maxFdsPerMessage", limits.maxFdsPerMessage)
            : this.unclaimedFds + count > limits.maxUnclaimedFds
            ? this.#tooManyFds(this.unclaimedFds + count, "limits.maxUnclaimedFds", limits.maxUnclaimedFds)
            : undefined
          if (excess !== undefined) return this.#fail(excess, frames.slice(i).flatMap((frame) => frame.fds))
          this.#ready.push(this.#message(frames[i]!.data, frames[i]!.fds, credentials))
          if (lend) this.#lent++
        }
        if (error !== undefined) return this.#fail(error, [])
        if (lend && frames.length > 0) return
      }
      // A STREAM read that did not fill the buffer took what was queued (short of a descriptor
      // or credentials boundary): the read that would only report EAGAIN is left to the next
      // pull, which reads before it waits anyway. A packet says nothing about what follows.
      if (this.type === "stream" && n < receiveBytes) return
    }
  }

  /**
   * Ends reading with `error`, closing at once the received descriptors no message will ever
   * own: `orphans`, and those still waiting in the frame FIFO.
   */
  #fail(error: Errors.ConnectionError, orphans: ReadonlyArray<number>): void {
    closeNumbers(this.#driver.binding, orphans)
    if (this.#decoder !== undefined) closeNumbers(this.#driver.binding, this.#decoder.takeAllFds())
    this.#terminal = error
  }

  #endOfStream(): void {
    const decoder = this.#decoder
    if (decoder !== undefined && decoder.bufferedBytes > 0) {
      this.#terminal = new Errors.ProtocolError({
        message: `end of stream inside a frame (${decoder.bufferedBytes} bytes of an incomplete frame): the peer stopped mid-frame`
      })
      return
    }
    // Descriptors already closed on arrival (-1: not accepted here) were only placeholders.
    const stray = decoder === undefined || decoder.waitingFds === 0 ? [] : decoder.takeAllFds().filter((fd) => fd >= 0)
    if (stray.length > 0) {
      closeNumbers(this.#driver.binding, stray)
      this.#terminal = new Errors.ProtocolError({
        message: `end of stream with ${stray.length} descriptors that belong to no frame (closed)`
      })
    } else {
      this.#terminal = "eof"
    }
  }

  #message(data: Uint8Array, numbers: ReadonlyArray<number>, credentials: Credentials | undefined): Message {
    const fds = numbers.length === 0 ? NO_FDS : (this.#received ??= new ReceivedFds(this.#driver)).own(numbers)
    return credentials === undefined ? { data, fds } : { data, fds, credentials }
  }

  #tooManyFds(count: number, limit: string, value: number): Errors.FdLimit {
    return new Errors.FdLimit({
      message: `${count} received descriptors exceed ${limit} (${value}); the excess was closed and the connection ended`,
      limit: value
    })
  }

  // ---------------------------------------------------------------------------------------
  // Writing

  /** Bound (it may be passed around as a function), and made on first use. */
  get send(): (message: Outgoing) => Effect.Effect<void, Errors.ConnectionError> {
    return this.#send ??= (message) =>
      Effect.suspend(() => {
        if (this.#closed) return Effect.fail(closedError("sendmsg"))
        const entry = prepare(this.#driver, message, this.#framed ? FRAMED_STREAM : this.type === "stream" ? RAW_STREAM : PACKETS)
        return "data" in entry ? this.#sendQueue().enqueue(entry) : Effect.fail(entry)
      }) as Effect.Effect<void, Errors.ConnectionError>
  }

  #sendQueue(): SendQueue {
    return this.#queue ??= new SendQueue(this.#driver, this.fd, this.#watch, this.type === "stream")
  }

  get end(): Effect.Effect<void, Errors.ConnectionError> {
    return Effect.suspend(() =>
      this.#closed ? Effect.fail(closedError("shutdown")) : this.#sendQueue().enqueue(shutdownEntry())
    ) as Effect.Effect<void, Errors.ConnectionError>
  }

  // ---------------------------------------------------------------------------------------
  // Lifetime

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow())
  }

  get detach(): Effect.Effect<Fd, Errors.Closed> {
    return Effect.suspend(() => {
      if (this.#closed) return Effect.fail(closedError("detach"))
      this.#release("detach")
      return Effect.succeed(new Fd(this.fd, this.#driver))
    })
  }

  closeNow(): void {
    if (this.#closed) return
    this.#release("close")
    this.#driver.binding.close(this.fd)
  }

  /** Ends everything this connection does with its socket, short of closing it. */
  #release(why: "close" | "detach"): void {
    this.#closed = true
    this.#socket.closed = true
    this.#queue?.close(why === "close" ? closedOnSend : closedOnSendAfterDetach)
    if (this.#terminal === undefined) this.#terminal = "closed"
    this.#watch.close() // still ours: deregistered before it is closed or handed on
    if (this.#decoder !== undefined) closeNumbers(this.#driver.binding, this.#decoder.takeAllFds())
    this.#ready.clear() // their descriptors are among the unclaimed ones
    this.#lent = 0
    this.#driver.lending.release(this)
    this.#received?.closeAll()
    this.#driver.reactor.release()
    this.#onClose?.(this)
  }

  /**
   * A loop of its own rather than `Stream.runForEach(messages)`: per message one poll and one
   * continuation, and while it waits one parked callback (a server's idle connections hold
   * less than half the memory a suspended stream holds).
   */
  handleMessages = <E, R>(
    handler: (message: Message) => Effect.Effect<void, E, R>
  ): Effect.Effect<void, Errors.ConnectionError | E, R> => {
    const next = pollReadable(this.#watch, () => this.#pollOne(END_OF_STREAM))
    const again = () => loop
    const loop: Effect.Effect<void, Errors.ConnectionError | E, R> = Effect.flatMap(next, (message) => {
      if (message === undefined) return Effect.void
      const handled = message.fds.length === 0 ? handler(message) : Effect.ensuring(handler(message), closeAll(message.fds))
      return Effect.flatMap(handled, again)
    })
    return loop
  }
}

const END_OF_STREAM = Effect.succeed(undefined)

const received = (length: number, message: Message): Received =>
  message.credentials === undefined
    ? { length, fds: message.fds }
    : { length, fds: message.fds, credentials: message.credentials }

const closeAll = (fds: ReadonlyArray<Fd>) => Effect.sync(() => Fd.closeAll(fds))

const closedError = (syscall: string) => new Errors.Closed({ message: `${syscall}: the connection is closed`, syscall })
const closedOnSend = () => closedError("sendmsg")
const closedOnSendAfterDetach = () => closedError("sendmsg after detach")

/** The fields of `value` that are not undefined (so defaults survive `{ ...defaults, ...options }`). */
export const definedOnly = <T extends object>(value: T | undefined): Partial<T> => {
  const out: Partial<T> = {}
  if (value === undefined) return out
  for (const [key, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[key] = v
  return out
}
