/**
 * The README's wire format, written by hand: raw peers use these to send exactly the bytes
 * they mean (valid or not), and to read a server's framed replies without the library's
 * decoder, which is what is under test.
 */

export const HEADER_BYTES = 8
export const MAX_FDS_PER_FRAME = 253

/** A frame header: payload length (u32 BE), descriptor count (u16 BE), reserved (u16 BE). */
export const header = (length: number, fdCount: number, reserved = 0): Uint8Array => {
  const bytes = new Uint8Array(HEADER_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, length >>> 0)
  view.setUint16(4, fdCount & 0xffff)
  view.setUint16(6, reserved & 0xffff)
  return bytes
}

/** Header and payload in one buffer. */
export const frame = (payload: Uint8Array, fdCount: number): Uint8Array => {
  const bytes = new Uint8Array(HEADER_BYTES + payload.length)
  bytes.set(header(payload.length, fdCount))
  bytes.set(payload, HEADER_BYTES)
  return bytes
}

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Collects bytes read from a STREAM socket and cuts complete frames' payloads out of them. */
export class FrameReader {
  #buffer: Uint8Array = new Uint8Array(0)

  push(chunk: Uint8Array): Array<Uint8Array> {
    this.#buffer = concat([this.#buffer, chunk])
    const frames: Array<Uint8Array> = []
    for (;;) {
      if (this.#buffer.length < HEADER_BYTES) return frames
      const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0)
      if (this.#buffer.length < HEADER_BYTES + length) return frames
      frames.push(this.#buffer.slice(HEADER_BYTES, HEADER_BYTES + length))
      this.#buffer = this.#buffer.slice(HEADER_BYTES + length)
    }
  }
}

/**
 * A running FNV-1a hash of frames as a receiver saw them: each frame's length, descriptor
 * kinds and bytes. The sender computes it over what it sent, the server over what it
 * received; equal values mean the same frames, in the same order, with the same descriptors.
 */
export class Digest {
  #hash = 0x811c9dc5
  frames = 0

  #byte(value: number): void {
    this.#hash = Math.imul(this.#hash ^ (value & 0xff), 0x01000193) >>> 0
  }

  add(data: Uint8Array, kinds: string): void {
    this.frames++
    for (const shift of [24, 16, 8, 0]) this.#byte(data.length >>> shift)
    this.#byte(kinds.length >>> 8)
    this.#byte(kinds.length)
    for (let i = 0; i < kinds.length; i++) this.#byte(kinds.charCodeAt(i))
    for (let i = 0; i < data.length; i++) this.#byte(data[i]!)
  }

  get value(): number {
    return this.#hash
  }
}

/** One letter per descriptor kind, as `Fd.type()` names it. */
export const kindLetter = (type: string): string => type === "character" ? "c" : type === "fifo" ? "f" : type === "socket" ? "s" : "?"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Payloads starting with this are health checks: the fuzz server echoes them at once. */
export const HEALTH_PREFIX = encoder.encode("\u0000stress-health\u0000")

export const healthPayload = (n: number): Uint8Array => concat([HEALTH_PREFIX, encoder.encode(String(n))])

export const isHealth = (data: Uint8Array): boolean =>
  data.length >= HEALTH_PREFIX.length && HEALTH_PREFIX.every((byte, i) => data[i] === byte)

export const text = (data: Uint8Array): string => decoder.decode(data)
export const bytes = (value: string): Uint8Array => encoder.encode(value)

/** Sequence numbers of the load scenario: 4 bytes, big-endian. */
export const sequenceNumber = (n: number): Uint8Array => {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

export const readSequenceNumber = (data: Uint8Array): number =>
  data.length === 4 ? new DataView(data.buffer, data.byteOffset, 4).getUint32(0) : -1
