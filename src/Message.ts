/**
 * Messages: bytes, descriptors, and optionally the sender's credentials.
 *
 * On a framed STREAM connection a message is one frame; on SEQPACKET and DGRAM it is one
 * kernel message; on a raw STREAM it is whatever one read returned. A received message's
 * descriptors are owned `Fd`s belonging to the receiver: close them, `take()` them, or let the
 * connection close them when it closes (see `Connection.handleMessages` for the form that
 * closes them when your handler returns).
 *
 * @since 0.1.0
 */
import type { Credentials } from "./Credentials.ts"
import type { Fd } from "./Fd.ts"

/**
 * A received message.
 *
 * @category models
 * @since 0.1.0
 */
export interface Message {
  readonly data: Uint8Array
  readonly fds: ReadonlyArray<Fd>
  /** The sender's credentials (SCM_CREDENTIALS), when the receiver asked for them. */
  readonly credentials?: Credentials | undefined
}

/**
 * What `Connection.receiveInto` wrote into the caller's buffer: the message's length there (its
 * bytes are `buffer.subarray(0, length)`), its descriptors and the sender's credentials, as a
 * `Message` carries them.
 *
 * @category models
 * @since 0.1.0
 */
export interface Received {
  readonly length: number
  readonly fds: ReadonlyArray<Fd>
  /** The sender's credentials (SCM_CREDENTIALS), when the receiver asked for them. */
  readonly credentials?: Credentials | undefined
}

/**
 * A message to send. Descriptors are borrowed, never taken: the caller still owns them and may
 * close them as soon as `send` resolves. `credentials: true` attaches this process's own pid,
 * uid and gid; explicit credentials are checked by the kernel (only root may claim others).
 *
 * @category models
 * @since 0.1.0
 */
export interface OutgoingMessage {
  readonly data?: Uint8Array | string | undefined
  readonly fds?: ReadonlyArray<Fd | number> | undefined
  readonly credentials?: true | Credentials | undefined
}

/**
 * What `send` accepts: a full `OutgoingMessage`, or just its bytes.
 *
 * @category models
 * @since 0.1.0
 */
export type Outgoing = OutgoingMessage | Uint8Array | string

const decoder = new TextDecoder()

/**
 * The message's bytes decoded as UTF-8.
 *
 * @category accessors
 * @since 0.1.0
 */
export const text = (message: Message): string => decoder.decode(message.data)
