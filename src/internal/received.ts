/**
 * The ledger of received descriptors nobody has claimed yet: each becomes an owned `Fd` whose
 * closing or taking is reported back here, so an endpoint knows how many it holds (against
 * `limits.maxUnclaimedFds`) and closes the rest when it closes.
 *
 * @internal
 */
import { Fd, type FdOwner } from "../Fd.ts"
import type { UnixDriverShape } from "../UnixDriver.ts"

const NO_FDS: ReadonlyArray<Fd> = Object.freeze([])

export class ReceivedFds implements FdOwner {
  readonly #driver: UnixDriverShape
  /** Made with the first descriptor: most connections never receive one. */
  #unclaimed: Set<Fd> | undefined

  constructor(driver: UnixDriverShape) {
    this.#driver = driver
  }

  /** How many received descriptors are neither closed nor taken. */
  get size(): number {
    return this.#unclaimed?.size ?? 0
  }

  /** FdOwner: a received descriptor was closed or taken by the consumer. */
  release(fd: Fd): void {
    this.#unclaimed?.delete(fd)
  }

  /** Wraps received numbers (-1 entries are skipped) as `Fd`s this ledger keeps track of. */
  own(numbers: ReadonlyArray<number>): ReadonlyArray<Fd> {
    if (numbers.length === 0) return NO_FDS
    const owned: Array<Fd> = []
    const unclaimed = this.#unclaimed ??= new Set()
    for (const n of numbers) {
      if (n < 0) continue
      const fd = new Fd(n, this.#driver, this)
      unclaimed.add(fd)
      owned.push(fd)
    }
    return owned
  }

  /** Closes raw numbers that never became `Fd`s (-1 entries are skipped). */
  closeNumbers(numbers: ArrayLike<number>): void {
    for (let i = 0; i < numbers.length; i++) if (numbers[i]! >= 0) this.#driver.binding.close(numbers[i]!)
  }

  /** Closes every descriptor still unclaimed. */
  closeAll(): void {
    if (this.#unclaimed !== undefined) for (const fd of [...this.#unclaimed]) fd.close()
  }
}
