/**
 * A connected STREAM or SEQPACKET socket.
 *
 * Model. A `Connection` owns its socket descriptor and every received descriptor nobody has
 * claimed yet; `close` (or the scope that opened it) releases all of them. Its identity,
 * `peer`, is read from the kernel (`SO_PEERCRED`) when it is made, before anything is read.
 *
 * Reading is pull-based: nothing is read from the socket until `messages` is pulled (or
 * `receive`, `receiveInto` or `handleMessages` runs). A
 * consumer that stops pulling leaves data in the kernel's buffers, the sender's buffers fill,
 * and its `send` suspends: backpressure end to end. `messages` ends on a clean end of stream
 * and fails with a typed error otherwise (a peer that vanished mid-frame gives
 * `ProtocolError`, a reset `Closed`).
 *
 * Writing: `send` resolves once the kernel holds the whole message (and its descriptors).
 * Sends on one connection are delivered in call order. A send that cannot go out now waits
 * for the socket to become writable, holding its own duplicates of the descriptors, so the
 * caller may close its descriptors whenever `send` resolves. A STREAM write that goes out in
 * parts attaches the descriptors to the first part only.
 *
 * Received descriptors: each message's `fds` are owned `Fd`s. A connection holds at most
 * `limits.maxUnclaimedFds` that have been neither closed nor taken; past that it ends with
 * `FdLimit`, so a careless consumer or a hostile peer cannot exhaust the process. Use
 * `handleMessages` to have each message's descriptors closed when your handler returns, or
 * `limits.maxFdsPerMessage: 0` to close any that arrive at once.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as Address from "./Address.ts"
import type { PeerCredentials } from "./Credentials.ts"
import type { Closed, ConnectionError } from "./Errors.ts"
import type { Fd } from "./Fd.ts"
import type { Message, Outgoing, Received } from "./Message.ts"

/**
 * Socket types a connection can have.
 *
 * @category models
 * @since 0.1.0
 */
export type SocketType = "stream" | "seqpacket"

/**
 * How a STREAM connection turns bytes into messages: `"length-prefixed"` frames (the README's
 * wire format, which carries each frame's descriptor count), or `"raw"` chunks as read.
 * SEQPACKET keeps the kernel's message boundaries and ignores this.
 *
 * @category models
 * @since 0.1.0
 */
export type Framing = "length-prefixed" | "raw"

/**
 * Resource limits of one connection.
 *
 * @category models
 * @since 0.1.0
 */
export interface Limits {
  /** Largest message accepted (a frame header announcing more fails before allocating it). Default 16 MiB. */
  readonly maxMessageBytes?: number | undefined
  /** Most descriptors accepted in one message; 0 closes every received descriptor at once. Default 253. */
  readonly maxFdsPerMessage?: number | undefined
  /** Most received descriptors held neither closed nor taken. Default 1024. */
  readonly maxUnclaimedFds?: number | undefined
  /**
   * Most received descriptors waiting for the frame they belong to (framed STREAM: the
   * descriptors of a `sendmsg` arrive with its first byte, before their frames are complete).
   * A compliant peer never needs more than two `sendmsg`s' worth. Default 512.
   */
  readonly maxFdsInFlight?: number | undefined
}

/**
 * The default limits.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultLimits: Required<{ readonly [K in keyof Limits]: number }> = {
  maxMessageBytes: 16 * 1024 * 1024,
  maxFdsPerMessage: 253,
  maxUnclaimedFds: 1024,
  maxFdsInFlight: 512
}

/**
 * Options shared by everything that makes a connection.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectionOptions {
  readonly framing?: Framing | undefined
  readonly limits?: Limits | undefined
  /** Ask the kernel for the sender's credentials with each message (SO_PASSCRED). */
  readonly passCredentials?: boolean | undefined
}

/**
 * A connected socket.
 *
 * @category models
 * @since 0.1.0
 */
export interface Connection {
  readonly type: SocketType
  readonly framing: Framing
  /** The socket's descriptor number, borrowed: do not close it, close the connection. */
  readonly fd: number
  /** The peer's identity from SO_PEERCRED. */
  readonly peer: PeerCredentials
  /** This end's bound address (unnamed for most clients). */
  readonly localAddress: Address.Address
  /**
   * The peer's address: for a client, the address it connected to, as given to `connect`; for
   * an accepted connection, the client's bound address (unnamed unless it used `bind`); for an
   * adopted socket or a pair, what `getpeername` reports.
   */
  readonly remoteAddress: Address.Address
  /**
   * Incoming messages; ends on clean end of stream. Pull to read: one consumer at a time. A
   * consumer that stops early (`Stream.take`) leaves the messages already read for the next.
   */
  readonly messages: Stream.Stream<Message, ConnectionError>
  /**
   * Receives one message, waiting for one if none has arrived: a request–reply client's read,
   * with no stream to run. At a clean end of stream it fails with `Cause.Done` (as a stream's
   * pull does; `Cause.isDone` tells it apart). It shares its queue with `messages`: one reader
   * at a time, either way.
   */
  readonly receive: Effect.Effect<Message, ConnectionError | Cause.Done>
  /**
   * Receives one message into a buffer the caller owns and reuses, as `read(2)` does: the
   * message's bytes are `buffer.subarray(0, length)`, and nothing is allocated for them. For
   * bulk transfer: a fresh buffer per received message (what `receive` gives) is most of what a
   * large message costs. A framed or SEQPACKET message longer than `buffer` fails with
   * `MessageTooLarge` (its `size` says how long) and stays queued for the next call; on a raw
   * STREAM the bytes that do not fit stay for the next call, and the descriptors come with the
   * first part. Descriptors and credentials are as `receive` gives them. At a clean end of
   * stream it fails with `Cause.Done`. One reader at a time, sharing the queue with `receive`
   * and `messages`.
   */
  readonly receiveInto: (buffer: Uint8Array) => Effect.Effect<Received, ConnectionError | Cause.Done>
  /**
   * Sends one message; resolves when the kernel holds all of it. The data is not copied (a
   * large payload goes to `sendmsg` as it is): leave it unchanged until `send` resolves.
   */
  readonly send: (message: Outgoing) => Effect.Effect<void, ConnectionError>
  /** `send` as a sink. */
  readonly sink: Sink.Sink<void, Outgoing, never, ConnectionError>
  /** Shuts down the write side once queued sends are out (the peer sees end of stream). */
  readonly end: Effect.Effect<void, ConnectionError>
  /** Closes the socket and every unclaimed received descriptor; pending sends fail with `Closed`. Idempotent. */
  readonly close: Effect.Effect<void>
  /**
   * Takes the socket out of this connection, as an owned `Fd`: to hand it to another process
   * (send it), or to another API (`NodeUnix.toNetSocket`). The connection is closed for use
   * (pending sends fail with `Closed`; bytes already read but not pulled are dropped: detach
   * before reading), its unclaimed received descriptors are closed, and the socket stays open.
   */
  readonly detach: Effect.Effect<Fd, Closed>
  /**
   * Runs `handler` for each message in turn; the message's descriptors that the handler did
   * not close or take are closed when it returns. Ends when the peer closes cleanly. The
   * lightest way for a server to handle a connection: no stream machinery per message, and a
   * connection waiting for its next message holds less memory than a suspended `messages`.
   */
  readonly handleMessages: <E, R>(
    handler: (message: Message) => Effect.Effect<void, E, R>
  ) => Effect.Effect<void, ConnectionError | E, R>
  /** How many received descriptors are held neither closed nor taken. */
  readonly unclaimedFds: number
  readonly isClosed: boolean
}
