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
 * Under this size received bytes are copied by `slice` into a plain `Uint8Array` (V8 keeps the
 * smallest on its own heap, and zeroing them costs nothing worth avoiding).
 */
export const SMALL_COPY_BYTES = 1024

/**
 * A copy of `bytes[from, to)`: into memory from `allocate` when that is large enough to
 * matter, else a `slice` (which makes no view of the source).
 */
export const copyBytes = (allocate: (size: number) => Uint8Array, bytes: Uint8Array, from: number, to: number): Uint8Array => {
  if (to - from < SMALL_COPY_BYTES) return bytes.slice(from, to)
  const copy = allocate(to - from)
  copy.set(bytes.subarray(from, to))
  return copy
}

/**
 * Incremental decoder. `addFds` the descriptors that came with a read, then `push` its bytes
 * (borrowed: copied as needed before returning); complete frames are appended to `out`.
 *
 * Descriptor numbers of -1 in the FIFO stand for descriptors already closed because the
 * endpoint does not accept them (`maxFdsPerMessage: 0`); they count for association and are
 * dropped from the frame.
 */
export class FrameDecoder {
  readonly #maxBytes: number
  readonly #allocate: (size: number) => Uint8Array
  /** Received descriptors not yet given to a frame; made with the first (most connections get none). */
  #fifo: Array<number> | undefined
  #pending: Uint8Array = EMPTY
  #pendingLength = 0
  /**
   * Lending: the buffer the last frame completed in `#pending` was handed out as a view of,
   * reused for the next held-back frame once that frame has been taken (two buffers take
   * turns, so a lent frame is never written over by the read that completed it).
   */
  #spare: Uint8Array = EMPTY

  /** `allocate`: memory for frames, of unspecified content (every byte is written first). */
  constructor(maxBytes: number, allocate: (size: number) => Uint8Array) {
    this.#maxBytes = maxBytes
    this.#allocate = allocate
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

  /**
   * Decodes `bytes[0, length)` (borrowed: what outlives the call is copied). Works on offsets
   * into the read buffer: no view is made per frame, only each frame's own copy.
   *
   * `lend`: complete frames are views instead, of `bytes` or of the decoder's own buffer, valid
   * until the next `push` (the caller copies what it has not handed out by then); nothing is
   * allocated per frame.
   */
  push(bytes: Uint8Array, length: number, out: Array<Frame>, lend = false): ProtocolError | MessageTooLarge | undefined {
    let at = 0
    // Complete the held-back frame first, copying only what it still needs.
    while (this.#pendingLength > 0) {
      const need = this.#needed(this.#pending, 0, this.#pendingLength)
      if (typeof need !== "number") return need
      if (this.#pendingLength >= need) {
        if (lend) {
          this.#emit(this.#pending, 0, need, out, false)
          const lent = this.#pending
          this.#pending = this.#spare
          this.#spare = lent.length > 1 << 20 ? EMPTY : lent
        } else if (this.#pending.length === need) {
          // Held back in a buffer of its own size: the frame keeps that buffer (no copy).
          this.#emit(this.#pending, 0, need, out, false)
          this.#pending = EMPTY
        } else {
          this.#emit(this.#pending, 0, need, out, true)
          if (this.#pending.length > 1 << 20) this.#pending = EMPTY
        }
        this.#pendingLength = 0
        break
      }
      const take = Math.min(need - this.#pendingLength, length - at)
      if (take === 0) return undefined
      this.#append(bytes, at, take, need)
      at += take
    }
    while (at < length) {
      const need = this.#needed(bytes, at, length - at)
      if (typeof need !== "number") return need
      if (need > length - at) {
        this.#append(bytes, at, length - at, need)
        return undefined
      }
      this.#emit(bytes, at, need, out, !lend)
      at += need
    }
    return undefined
  }

  /** Total length of the frame whose header starts at `bytes[at]`, `available` bytes there; 8 while the header is incomplete. */
  #needed(bytes: Uint8Array, at: number, available: number): number | ProtocolError | MessageTooLarge {
    if (available < HEADER_BYTES) return HEADER_BYTES
    const length = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
    const fdCount = (bytes[at + 4]! << 8) | bytes[at + 5]!
    const reserved = (bytes[at + 6]! << 8) | bytes[at + 7]!
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
   * Holds back `bytes[at, at + count)` of a frame of `capacity` bytes. The buffer grows with
   * what arrives (doubling, up to the announced size), never to the announced size up front: a
   * header announcing 16 MiB costs nothing until 8 MiB arrive. Once half the frame is there it
   * grows to the frame's exact size, which the frame then keeps.
   */
  #append(bytes: Uint8Array, at: number, count: number, capacity: number): void {
    const needed = this.#pendingLength + count
    if (this.#pending.length < needed) {
      const size = needed * 2 >= capacity ? capacity : Math.min(capacity, Math.max(needed, this.#pending.length * 2, 4096))
      const grown = this.#allocate(size)
      grown.set(this.#pending.subarray(0, this.#pendingLength))
      this.#pending = grown
    }
    this.#pending.set(bytes.subarray(at, at + count), this.#pendingLength)
    this.#pendingLength += count
  }

  /**
   * The complete frame at `bytes[at, at + frameLength)`: its payload copied out (the bytes are
   * borrowed), or a view of them when `copy` is false (a buffer the frame keeps).
   */
  #emit(bytes: Uint8Array, at: number, frameLength: number, out: Array<Frame>, copy: boolean): void {
    const fdCount = (bytes[at + 4]! << 8) | bytes[at + 5]!
    const fds = fdCount === 0 ? NO_FDS : this.#takeFds(fdCount)
    const from = at + HEADER_BYTES
    const to = at + frameLength
    out.push({ data: copy ? copyBytes(this.#allocate, bytes, from, to) : bytes.subarray(from, to), fds })
  }

  /** The next `count` descriptors of the FIFO, without those already closed (-1). */
  #takeFds(count: number): Array<number> {
    const fds = this.#fifo!.splice(0, count) // #needed checked that they are there
    return fds.includes(-1) ? fds.filter((fd) => fd >= 0) : fds
  }
}
