/**
 * The receive buffer `Connection.receiveInto` reads into: one per realm, like the shared
 * `scratch`, made on first use. Messages read into it are lent (views of it) until their
 * connection hands them out; a connection that has lent messages waiting is their holder, and
 * before another connection reads into the buffer the holder copies what it still has.
 *
 * @internal
 */

/** A connection that may hold views of the lending buffer. */
export interface Lender {
  /** Copies every waiting message that is still a view of the lending buffer. */
  unlend(): void
}

export class LendingBuffer {
  readonly #size: number
  #bytes: Uint8Array | undefined
  #holder: Lender | undefined

  constructor(size: number) {
    this.#size = size
  }

  /** The buffer, for `reader` to read into: a previous holder copies its views first. */
  claim(reader: Lender): Uint8Array {
    if (this.#holder !== undefined && this.#holder !== reader) this.#holder.unlend()
    this.#holder = reader
    return this.#bytes ??= new Uint8Array(this.#size)
  }

  /** `lender` holds no view of the buffer any more. */
  release(lender: Lender): void {
    if (this.#holder === lender) this.#holder = undefined
  }
}
