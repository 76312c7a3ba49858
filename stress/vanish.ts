/**
 * Scenario 9, the reading side vanishes while a large send is blocked: 200 times, a sender
 * process writes a message larger than the socket buffers, with a second one carrying
 * descriptors queued behind it, to a reader that reads a little and then goes away (SIGKILL
 * on even rounds, close() on odd ones; stress/peers.py vanishing-reader).
 *
 * Both sends must fail with `Closed`, promptly, and the sender must not keep anything: the
 * duplicates a queued send holds of its descriptors included, its descriptor count is the
 * same after the 200 rounds as before.
 */
import { Effect } from "effect"
import {
  abstractName,
  ask,
  count,
  fdCount,
  collected,
  type Findings,
  Helper,
  mb,
  MiB,
  type Scenario,
  secs,
  started,
  startHelper,
  steadyFds,
  tallyText
} from "./support.ts"

const ROUNDS = 200
const BYTES = 4 * MiB

export const vanish: Scenario = {
  name: "vanish",
  title: "Reader vanishes during a blocked send",
  about:
    `${ROUNDS} times, a sender process sends a ${BYTES / MiB} MiB message (far more than the socket buffers hold) and, queued ` +
    "behind it, one carrying two descriptors, to a reader that reads 64 KiB and then vanishes: killed by SIGKILL every " +
    "other round, closing its socket otherwise. It proves a send blocked on a full buffer fails with `Closed` when the " +
    "other side goes away (it never hangs), that the sends queued behind it fail the same way, and that nothing is " +
    "left behind in the sender: the duplicates a queued send holds of its descriptors are closed too.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = `${BYTES / MiB} MiB send plus a queued send with 2 descriptors; the reader vanishes mid-transfer`
      const address = abstractName("vanish")
      yield* started(() => Helper.python("peers.py", ["vanishing-reader", address]))
      const sender = yield* startHelper("peer.ts")
      yield* ask(sender, "blocked", { address, rounds: 2, bytes: BYTES })
      const baseline = yield* steadyFds(sender.pid)
      const before = yield* collected(sender)
      const start = performance.now()
      const result = yield* ask(sender, "blocked", { address, rounds: ROUNDS, bytes: BYTES })
      const elapsed = performance.now() - start
      const afterFds = fdCount(sender.pid)
      const after = yield* collected(sender)

      findings.amount = `${count(ROUNDS)} rounds, ${count(ROUNDS * 2)} sends, in ${secs(elapsed)} s`
      findings.check(
        (result.outcomes["Closed"] ?? 0) === ROUNDS * 2 && Object.keys(result.outcomes).length === 1,
        `every send failed with Closed once the reader was gone (${count(ROUNDS * 2)} of ${count(ROUNDS * 2)}); slowest round ${result.slowestMs.toFixed(0)} ms, none hung`,
        `sends ended with ${tallyText(result.outcomes)} (expected ${ROUNDS * 2} Closed); slowest round ${result.slowestMs.toFixed(0)} ms`
      )
      findings.check(
        afterFds === baseline && result.fdsAfter === result.fdsBefore,
        `sender descriptors ${baseline} before, ${afterFds} after`,
        `sender descriptors ${baseline} before, ${afterFds} after (counted inside: ${result.fdsBefore} → ${result.fdsAfter})`
      )
      findings.note(`sender RSS ${mb(before.rss)} MB before, ${mb(after.rss)} MB after (after a full GC each time); ${(after.cpu - before.cpu).toFixed(1)} s CPU`)
    })
}
