/**
 * Scenario 6, backpressure: a sender pushing 1 GiB into a slow consumer, each in its own
 * process.
 *
 * The consumer (server.ts `slow`) reads at a bounded rate and stops reading altogether for
 * 2 s midway. Pull-based reading means the kernel buffers fill and the sender's `send`
 * waits instead of the data piling up in either process: both resident sizes stay bounded,
 * the sender cannot finish faster than the consumer reads, and while the consumer is stopped
 * the sender advances by no more than what the kernel buffers hold.
 */
import { Effect, Fiber } from "effect"
import {
  abstractName,
  ask,
  count,
  collected,
  type Findings,
  mb,
  memoryText,
  MiB,
  type Scenario,
  secs,
  startHelper,
  statsWhen,
  watchPeaks
} from "./support.ts"

const TOTAL = 1024 * MiB
const CHUNK = 256 * 1024
const RATE = 160 * MiB
const PAUSE_MS = 2000
/**
 * Growth allowed to each process at its peak: an eighth of what is sent. A sender or consumer
 * that buffered would hold the whole gigabyte; what remains is garbage the collector has not
 * got round to (each received message is a fresh buffer).
 */
const BOUND = TOTAL / 8

export const backpressure: Scenario = {
  name: "backpressure",
  title: "Slow consumer, 1 GiB sender",
  about:
    `A peer process sends 1 GiB in ${CHUNK / 1024} KiB messages, one \`send\` after the other, to a server process whose ` +
    `consumer reads at most ${RATE / MiB} MiB/s and stops reading for ${PAUSE_MS / 1000} s midway. It proves pull-based ` +
    "backpressure end to end: nothing is read that the consumer did not ask for, the sender's `send` waits for the " +
    "kernel instead of buffering, so neither process grows with the amount sent, the sender finishes no faster than " +
    "the consumer reads, and while the consumer is stopped the sender advances only by what the kernel buffers hold.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = `1 GiB in ${CHUNK / 1024} KiB messages into a consumer reading ≤ ${RATE / MiB} MiB/s, stopping for ${PAUSE_MS / 1000} s`
      const server = yield* startHelper("server.ts")
      const sender = yield* startHelper("peer.ts")
      const { address } = yield* ask(server, "listen", { name: "slow", address: abstractName("slow"), handler: "slow", rate: RATE, timeoutMs: 300_000 })
      // Warm up both with a few MiB, so the baselines include what the first transfer loads.
      yield* ask(sender, "bulk", { address, bytes: 8 * MiB, chunk: CHUNK })
      yield* statsWhen(server, "slow", (s) => s.open === 0)
      yield* ask(server, "reset", { name: "slow" })
      const before = [yield* collected(server), yield* collected(sender)] as const

      const progress = (): number => sender.events.filter((e) => e.event === "progress").at(-1)?.bytes ?? 0
      const { peakRss, result } = yield* watchPeaks([server.pid, sender.pid], Effect.gen(function*() {
        const sending = yield* Effect.forkChild(ask(sender, "bulk", { address, bytes: TOTAL, chunk: CHUNK }))
        // Stop the consumer once the transfer is well under way.
        while (progress() < TOTAL / 4) yield* Effect.sleep(20)
        yield* ask(server, "pause", { name: "slow", ms: PAUSE_MS })
        // What was in flight lands in the kernel buffers first; measure from then on.
        yield* Effect.sleep(300)
        const pausedAt = progress()
        yield* Effect.sleep(PAUSE_MS - 500)
        const advanced = progress() - pausedAt
        const bulk = yield* Fiber.join(sending)
        return { advanced, bulk }
      }))
      const stats = yield* statsWhen(server, "slow", (s) => s.handled >= 1 && s.open === 0)
      const after = [yield* collected(server), yield* collected(sender)] as const
      const { advanced, bulk } = result

      const fastest = TOTAL / RATE * 1000
      findings.amount = `${mb(bulk.bytes)} MB in ${count(bulk.bytes / CHUNK)} sends over ${secs(bulk.ms)} s (${mb(bulk.bytes / (bulk.ms / 1000))} MB/s on average)`
      findings.check(
        stats.bytes === TOTAL && (stats.outcomes["end"] ?? 0) === 1,
        `the consumer received all ${mb(TOTAL)} MB, clean end`,
        `the consumer received ${count(stats.bytes)} of ${count(TOTAL)} bytes; the connection ended with ${JSON.stringify(stats.outcomes)}`
      )
      findings.check(
        bulk.ms >= fastest,
        `the sender was held to the consumer's pace: ${secs(bulk.ms)} s, no less than the ${secs(fastest)} s the consumer's rate allows`,
        `the sender finished in ${secs(bulk.ms)} s, faster than the consumer can read (${secs(fastest)} s): it buffered`
      )
      findings.check(
        advanced <= 8 * MiB,
        `while the consumer was stopped, the sender advanced ${mb(advanced)} MB in ${secs(PAUSE_MS - 500)} s (kernel buffers only)`,
        `while the consumer was stopped, the sender advanced ${mb(advanced)} MB in ${secs(PAUSE_MS - 500)} s`
      )
      const grew = [peakRss[0]! - before[0].rss, peakRss[1]! - before[1].rss]
      findings.check(
        grew[0]! < BOUND && grew[1]! < BOUND,
        `memory bounded, far below the 1 GiB sent: consumer ${memoryText(before[0], peakRss[0]!, after[0])}; sender ${memoryText(before[1], peakRss[1]!, after[1])}`,
        `memory grew with the amount sent (bound ${mb(BOUND)} MB at peak): consumer ${memoryText(before[0], peakRss[0]!, after[0])}; sender ${memoryText(before[1], peakRss[1]!, after[1])}`
      )
    })
}
