/**
 * Items read from a socket but not yet pulled, handed out one per pull: a consumer that stops
 * early (`Stream.take`) leaves the rest here for the next consumer instead of dropping them
 * with the rest of a batch.
 *
 * @internal
 */
export class ReadyQueue<A> {
  #items: Array<A | undefined> = []
  #next = 0

  /** How many are waiting. */
  get size(): number {
    return this.#items.length - this.#next
  }

  push(item: A): void {
    this.#items.push(item)
  }

  /** The oldest waiting item, or undefined when none waits. */
  take(): A | undefined {
    if (this.#next === this.#items.length) return undefined
    const item = this.#items[this.#next]!
    this.#items[this.#next++] = undefined // handed out: no longer kept alive here (one drain can read many)
    if (this.#next === this.#items.length) this.clear()
    return item
  }

  /** Drops every waiting item (their owner releases what they hold). */
  clear(): void {
    this.#items.length = 0
    this.#next = 0
  }
}
