/**
 * The ledger of received descriptors nobody has claimed yet: each becomes an owned `Fd` whose
 * closing or taking is reported back here, so an endpoint knows how many it holds (against
 * `limits.maxUnclaimedFds`) and closes the rest when it closes.
 *
 * @internal
 */
import { Fd, type FdOwner } from "../Fd.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"

export const NO_FDS: ReadonlyArray<Fd> = Object.freeze([])

export class ReceivedFds implements FdOwner {
  readonly #driver: UnixDriverShape
  /**
   * The unclaimed `Fd`s by slot (each knows its own), and the free slots: a descriptor comes
   * and goes with an array store, where a `Set` rehashed as it grew and shrank with every
   * message that carried several. Made with the first descriptor: most connections never
   * receive one.
   */
  #slots: Array<Fd | undefined> | undefined
  #free: Array<number> | undefined
  #count = 0

  constructor(driver: UnixDriverShape) {
    this.#driver = driver
  }

  /** How many received descriptors are neither closed nor taken. */
  get size(): number {
    return this.#count
  }

  /** FdOwner: a received descriptor was closed or taken by the consumer. */
  release(fd: Fd, slot: number): void {
    if (this.#slots?.[slot] !== fd) return
    this.#slots[slot] = undefined
    this.#free!.push(slot)
    this.#count--
  }

  /** Wraps received numbers (-1 entries are skipped) as `Fd`s this ledger keeps track of. */
  own(numbers: ReadonlyArray<number>): ReadonlyArray<Fd> {
    if (numbers.length === 0) return NO_FDS
    const owned: Array<Fd> = []
    const slots = this.#slots ??= []
    const free = this.#free ??= []
    for (const n of numbers) {
      if (n < 0) continue
      const slot = free.pop() ?? slots.length
      const fd = new Fd(n, this.#driver, this, slot)
      slots[slot] = fd
      this.#count++
      owned.push(fd)
    }
    return owned
  }

  /** Closes every descriptor still unclaimed. */
  closeAll(): void {
    const slots = this.#slots
    if (slots === undefined) return
    Fd.closeAll(slots.filter((fd) => fd !== undefined))
    this.#slots = this.#free = undefined
  }
}
