/**
 * Scenario 7, ignored descriptors: a million messages carrying one descriptor each, into a
 * consumer that ignores them, twice: once served by `connection.handleMessages` with a
 * handler that does nothing (the descriptors it leaves are closed when it returns), once by
 * an endpoint with `limits.maxFdsPerMessage: 0` (they are closed the moment they arrive)
 * whose consumer reads `messages` and ignores everything.
 *
 * Every descriptor must be closed by the library, not by the garbage collector, and without
 * growth: the server's descriptor count returns to its baseline and its resident size, after a
 * full garbage collection on both sides of the run, grows by less than 20 MB.
 */
import { Effect } from "effect"
import {
  abstractName,
  ask,
  collected,
  count,
  type Findings,
  type Json,
  mb,
  memoryText,
  MiB,
  rate,
  type Scenario,
  secs,
  settledFds,
  startHelper,
  statsWhen,
  steadyFds,
  tallyText,
  watchPeaks
} from "./support.ts"

const MESSAGES = 1_000_000
const GROWTH_LIMIT = 20 * MiB

interface Variant {
  readonly name: string
  readonly what: string
  readonly handler: string
  readonly limits?: Json
  /** Descriptors the consumer sees per message. */
  readonly delivered: number
}

const variants: ReadonlyArray<Variant> = [
  { name: "handle", what: "`handleMessages` with a handler that does nothing", handler: "sink", delivered: 1 },
  { name: "zero", what: "`maxFdsPerMessage: 0`, `messages` read and ignored", handler: "hold", limits: { maxFdsPerMessage: 0 }, delivered: 0 }
]

export const ignoredFds: Scenario = {
  name: "ignored-fds",
  title: "Ignored descriptors",
  about:
    `A peer process sends ${count(MESSAGES)} messages carrying one descriptor each (a dup of /dev/null) as fast as they are ` +
    "taken, twice: to a server whose handler, run by `connection.handleMessages`, does nothing with them, and to one " +
    "with `limits.maxFdsPerMessage: 0` whose consumer reads `messages` and ignores them. It proves that descriptors a " +
    "consumer ignores are closed by the library as it goes (never left to the garbage collector, never piling up): " +
    "the server's descriptor count returns to its baseline and its resident size, compared after a full garbage " +
    "collection, stays flat.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = `${count(MESSAGES)} messages with one descriptor each, ignored by the consumer; two ways`
      const amounts: Array<string> = []
      for (const variant of variants) {
        yield* Effect.scoped(Effect.gen(function*() {
          const server = yield* startHelper("server.ts")
          const sender = yield* startHelper("peer.ts")
          const { address } = yield* ask(server, "listen", {
            name: variant.name,
            address: abstractName(`ignored-${variant.name}`),
            handler: variant.handler,
            limits: variant.limits,
            timeoutMs: 300_000
          })
          // Warm up with a few thousand, so the baseline includes what the first ones bring in.
          yield* ask(sender, "fds", { address, count: 20_000 })
          yield* statsWhen(server, variant.name, (s) => s.open === 0)
          yield* ask(server, "reset", { name: variant.name })
          const baseline = yield* steadyFds(server.pid)
          const before = yield* collected(server)
          const { peakFds, peakRss, result } = yield* watchPeaks([server.pid], ask(sender, "fds", { address, count: MESSAGES }))
          const stats = yield* statsWhen(server, variant.name, (s) => s.handled >= 1 && s.open === 0)
          const afterFds = yield* settledFds(server.pid, baseline)
          const after = yield* collected(server)
          const leakedToGc = (yield* ask(server, "stats", { name: variant.name })).closedByGarbageCollector
          amounts.push(`${count(result.sent)} in ${secs(result.ms)} s (${rate(result.sent, result.ms)}/s) to ${variant.name === "handle" ? "handleMessages" : "maxFdsPerMessage: 0"}`)
          const all = [
            findings.check(
              stats.messages === MESSAGES && stats.fds === MESSAGES * variant.delivered && (stats.outcomes["end"] ?? 0) === 1,
              `all ${count(MESSAGES)} messages read, clean end`,
              `${variant.what}: ${count(stats.messages)} of ${count(MESSAGES)} messages read; the connection ended with ${tallyText(stats.outcomes)} ${Object.values(stats.samples).join("; ")}`,
              false
            ),
            findings.check(
              leakedToGc === 0,
              "the garbage-collection backstop closed nothing",
              `${variant.what}: the garbage-collection backstop had to close ${count(leakedToGc)} descriptors`,
              false
            ),
            // One read per message and at most 64 reads per pull: a batch in hand is 64 descriptors.
            findings.check(
              afterFds === baseline && peakFds[0]! - baseline <= 128,
              `server descriptors ${baseline} before, ${peakFds[0]} at most during, ${afterFds} after`,
              `${variant.what}: server descriptors ${baseline} before, ${peakFds[0]} at most during, ${afterFds} after`,
              false
            ),
            findings.check(
              after.rss - before.rss < GROWTH_LIMIT,
              `server ${memoryText(before, peakRss[0]!, after)}`,
              `${variant.what}: server ${memoryText(before, peakRss[0]!, after)}: it kept more than ${mb(GROWTH_LIMIT)} MB`,
              false
            )
          ]
          if (all.every(Boolean)) {
            findings.note(
              `${variant.what}: all ${count(MESSAGES)} messages read, every descriptor closed by the library (none by the garbage collector); ` +
                `server descriptors ${baseline} before, ${peakFds[0]} at most during, ${afterFds} after; server ${memoryText(before, peakRss[0]!, after)}`
            )
          }
        }))
      }
      findings.amount = amounts.join("; ")
    })
}
