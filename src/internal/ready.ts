/**
 * Items read from a socket but not yet pulled, handed out one per pull: a consumer that stops
 * early (`Stream.take`) leaves the rest here for the next consumer instead of dropping them
 * with the rest of a batch.
 *
 * @internal
 */
export class ReadyQueue<A> {
  /** Made on the first push (an idle connection never needs it), then kept. */
  #items: Array<A | undefined> | undefined
  #next = 0

  /** How many are waiting. */
  get size(): number {
    return this.#items === undefined ? 0 : this.#items.length - this.#next
  }

  push(item: A): void {
    ;(this.#items ??= []).push(item)
  }

  /** The oldest waiting item, or undefined when none waits. */
  take(): A | undefined {
    const items = this.#items
    if (items === undefined || this.#next === items.length) return undefined
    const item = items[this.#next]!
    items[this.#next++] = undefined // handed out: no longer kept alive here (one drain can read many)
    if (this.#next === items.length) this.clear()
    return item
  }

  /** The oldest waiting item, left waiting; undefined when none waits. */
  peek(): A | undefined {
    const items = this.#items
    return items === undefined || this.#next === items.length ? undefined : items[this.#next]
  }

  /** Replaces the `index`-th waiting item (0: the oldest) by what `update` makes of it. */
  update(index: number, update: (item: A) => A): void {
    const items = this.#items!
    items[this.#next + index] = update(items[this.#next + index]!)
  }

  /** Drops every waiting item (their owner releases what they hold). */
  clear(): void {
    if (this.#items !== undefined) this.#items.length = 0
    this.#next = 0
  }
}
