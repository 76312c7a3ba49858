/**
 * The length-prefixed wire format for STREAM sockets, with descriptors.
 *
 * Each frame is an 8-byte header and its payload:
 *
 *   bytes 0–3  payload length in bytes, unsigned 32-bit big-endian
 *   bytes 4–5  number of descriptors that belong to this frame, unsigned 16-bit big-endian
 *              (0–253)
 *   bytes 6–7  reserved, zero
 *
 * A sender attaches a frame's descriptors (SCM_RIGHTS) to the `sendmsg` that carries the
 * frame's first header byte; several frames may share one `sendmsg` whose descriptors are
 * then theirs in order. The kernel hands descriptors over with the first byte of the
 * `sendmsg` that carried them, and one read may span two `sendmsg`s, so byte offsets say
 * nothing reliable about which bytes the descriptors came with. The receiver instead keeps
 * received descriptors in a FIFO and, at each complete header, takes exactly the header's
 * count from its front. A compliant sender has always delivered them by then; if the FIFO
 * holds fewer, the peer broke the protocol.
 *
 * @internal
 */
import { MessageTooLarge, ProtocolError } from "../Errors.ts"

export const HEADER_BYTES = 8
const EMPTY = new Uint8Array(0)
const NO_FDS: ReadonlyArray<number> = Object.freeze([])
export const MAX_FDS_PER_FRAME = 253

/** Payloads from this size up are sent behind their header as a second iovec (no copy), smaller ones copied behind it. */
export const SEPARATE_HEADER_BYTES = 4096

/** Writes a frame header for `payloadLength` bytes and `fdCount` descriptors into `into[0, 8)`. */
export const writeHeader = (into: Uint8Array, payloadLength: number, fdCount: number): void => {
  into[0] = payloadLength >>> 24
  into[1] = payloadLength >>> 16
  into[2] = payloadLength >>> 8
  into[3] = payloadLength
  into[4] = fdCount >>> 8
  into[5] = fdCount
  into[6] = 0
  into[7] = 0
}

/** One decoded frame: a copy of its payload and its descriptors, in the order sent. */
export interface Frame {
  readonly data: Uint8Array
  readonly fds: ReadonlyArray<number>
}

/**
 * Incremental decoder. `push` bytes (borrowed: copied as needed before returning) and the
 * descriptors that came with them; complete frames are appended to `out`.
 *
 * Descriptor numbers of -1 in the FIFO stand for descriptors already closed because the
 * endpoint does not accept them (`maxFdsPerMessage: 0`); they count for association and are
 * dropped from the frame.
 */
export class FrameDecoder {
  readonly #maxBytes: number
  /** Received descriptors not yet given to a frame; made with the first (most connections get none). */
  #fifo: Array<number> | undefined
  #pending: Uint8Array = EMPTY
  #pendingLength = 0

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** How many received descriptors wait for their frame's header. */
  get waitingFds(): number {
    return this.#fifo === undefined ? 0 : this.#fifo.length
  }

  /** Queues descriptors that arrived with the bytes about to be pushed (-1: closed already). */
  addFds(fds: ReadonlyArray<number>): void {
    const fifo = this.#fifo ??= []
    for (const fd of fds) fifo.push(fd)
  }

  /** Takes every descriptor still waiting (for the caller to close). */
  takeAllFds(): ReadonlyArray<number> {
    return this.#fifo === undefined || this.#fifo.length === 0 ? NO_FDS : this.#fifo.splice(0)
  }

  /** Bytes of an incomplete frame held back. */
  get bufferedBytes(): number {
    return this.#pendingLength
  }

  push(chunk: Uint8Array, out: Array<Frame>): ProtocolError | MessageTooLarge | undefined {
    let input = chunk
    // Complete the held-back frame first, copying only what it still needs.
    while (this.#pendingLength > 0) {
      const need = this.#needed(this.#pending.subarray(0, this.#pendingLength))
      if (typeof need !== "number") return need
      if (this.#pendingLength >= need) {
        if (this.#pending.length === need) {
          // Held back in a buffer of its own size: the frame keeps that buffer (no copy).
          this.#emit(this.#pending, out, false)
          this.#pending = EMPTY
        } else {
          this.#emit(this.#pending.subarray(0, need), out)
          if (this.#pending.length > 1 << 20) this.#pending = EMPTY
        }
        this.#pendingLength = 0
        break
      }
      const take = Math.min(need - this.#pendingLength, input.length)
      if (take === 0) return undefined
      this.#append(input.subarray(0, take), need)
      input = input.subarray(take)
    }
    while (input.length > 0) {
      const need = this.#needed(input)
      if (typeof need !== "number") return need
      if (need > input.length) {
        this.#append(input, need)
        return undefined
      }
      this.#emit(input.subarray(0, need), out)
      input = input.subarray(need)
    }
    return undefined
  }

  /** Total frame length announced by the header at the start of `bytes`; 8 while incomplete. */
  #needed(bytes: Uint8Array): number | ProtocolError | MessageTooLarge {
    if (bytes.length < HEADER_BYTES) return HEADER_BYTES
    const length = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
    const fdCount = (bytes[4]! << 8) | bytes[5]!
    const reserved = (bytes[6]! << 8) | bytes[7]!
    if (reserved !== 0) {
      return new ProtocolError({ message: `frame header has non-zero reserved bytes (${reserved})` })
    }
    if (fdCount > MAX_FDS_PER_FRAME) {
      return new ProtocolError({ message: `frame header claims ${fdCount} descriptors, over the limit of ${MAX_FDS_PER_FRAME}` })
    }
    if (fdCount > this.waitingFds) {
      return new ProtocolError({
        message: `frame claims ${fdCount} descriptors but only ${this.waitingFds} arrived before its header`
      })
    }
    if (length > this.#maxBytes) {
      return new MessageTooLarge({
        message: `frame header announces ${length} bytes, over limits.maxMessageBytes (${this.#maxBytes})`,
        size: length,
        limit: this.#maxBytes
      })
    }
    return HEADER_BYTES + length
  }

  /**
   * Holds back `bytes` of a frame of `capacity` bytes. The buffer grows with what arrives
   * (doubling, up to the announced size), never to the announced size up front: a header
   * announcing 16 MiB costs nothing until 8 MiB arrive. Once half the frame is there it grows
   * to the frame's exact size, which the frame then keeps.
   */
  #append(bytes: Uint8Array, capacity: number): void {
    const needed = this.#pendingLength + bytes.length
    if (this.#pending.length < needed) {
      const size = needed * 2 >= capacity ? capacity : Math.min(capacity, Math.max(needed, this.#pending.length * 2, 4096))
      const grown = new Uint8Array(size)
      grown.set(this.#pending.subarray(0, this.#pendingLength))
      this.#pending = grown
    }
    this.#pending.set(bytes, this.#pendingLength)
    this.#pendingLength += bytes.length
  }

  /** A complete frame: its payload copied out of `frame` (borrowed), or a view of it when `copy` is false. */
  #emit(frame: Uint8Array, out: Array<Frame>, copy = true): void {
    const fdCount = (frame[4]! << 8) | frame[5]!
    const fds = fdCount === 0 ? NO_FDS : this.#takeFds(fdCount)
    out.push({ data: copy ? frame.slice(HEADER_BYTES) : frame.subarray(HEADER_BYTES), fds })
  }

  /** The next `count` descriptors of the FIFO, without those already closed (-1). */
  #takeFds(count: number): Array<number> {
    const fds = this.#fifo!.splice(0, count) // #needed checked that they are there
    return fds.includes(-1) ? fds.filter((fd) => fd >= 0) : fds
  }
}
