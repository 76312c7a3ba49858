/**
 * Scenario 5, load: a thousand concurrent clients, a thousand messages each, against one
 * server process.
 *
 * The clients run in two peer processes (500 connections each), every connection sending
 * sequence numbers as fast as it can while reading the acknowledgements. The server checks
 * that each connection's numbers arrive exactly once and in order (each must be the previous
 * one plus one) and echoes each as its acknowledgement; the clients check the same of the
 * acknowledgements. Nothing may be lost, duplicated or reordered, and the server's
 * descriptors come back to their baseline.
 */
import { Effect } from "effect"
import {
  abstractName,
  ask,
  count,
  collected,
  type Findings,
  Helper,
  heapKept,
  type Json,
  mb,
  memoryText,
  rate,
  type Scenario,
  secs,
  settledFds,
  started,
  startHelper,
  statsWhen,
  steadyFds,
  tallyText,
  watchPeaks
} from "./support.ts"

const PROCESSES = 2
const CONNECTIONS = 1000
const MESSAGES = 1000

export const load: Scenario = {
  name: "load",
  title: "Load",
  about:
    `${count(CONNECTIONS)} clients in ${PROCESSES} processes connect at once to one framed server process and each send ` +
    `${count(MESSAGES)} sequence numbers as fast as their connection takes them, reading the acknowledgements as they come. ` +
    "The server checks that every connection's numbers arrive exactly once and in order, and echoes each one as its " +
    "acknowledgement; every client checks the same of what comes back. It proves per-connection order and " +
    "exactly-once delivery under contention (a million messages each way), and measures the throughput on this machine.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = `${count(CONNECTIONS)} concurrent clients × ${count(MESSAGES)} sequence-numbered messages, each acknowledged`
      const server = yield* startHelper("server.ts")
      const { address } = yield* ask(server, "listen", {
        name: "load",
        address: abstractName("load"),
        handler: "sequence",
        expect: MESSAGES,
        backlog: 2048,
        timeoutMs: 300_000
      })
      const peers = yield* Effect.forEach(Array.from({ length: PROCESSES }), () => started(() => Helper.node("peer.ts")))
      // Warm up: a few connections, so the baseline counts what the first ones open for good.
      yield* Effect.forEach(peers, ({ helper }) => ask(helper, "load", { address, connections: 5, messages: 10 }))
      yield* statsWhen(server, "load", (s) => s.open === 0)
      yield* ask(server, "reset", { name: "load" })
      const baseline = yield* steadyFds(server.pid)
      const before = yield* collected(server)

      const start = performance.now()
      const { peakFds, peakRss, result } = yield* watchPeaks(
        [server.pid],
        Effect.forEach(
          peers,
          ({ helper }) => ask(helper, "load", { address, connections: CONNECTIONS / PROCESSES, messages: MESSAGES }),
          { concurrency: "unbounded" }
        )
      )
      const elapsed = performance.now() - start
      const clients: Array<Json> = result
      const stats = yield* statsWhen(server, "load", (s) => s.handled >= CONNECTIONS && s.open === 0, 30_000)
      const afterFds = yield* settledFds(server.pid, baseline)
      const after = yield* collected(server)

      const total = CONNECTIONS * MESSAGES
      const acked = clients.reduce((n, c) => n + c.acked, 0)
      const complete = clients.reduce((n, c) => n + c.complete, 0)
      const errors = clients.flatMap((c) => c.errors)
      findings.amount = `${count(total)} messages and ${count(acked)} acknowledgements over ${count(CONNECTIONS)} connections in ${secs(elapsed)} s`
      const perConnection: Array<number> = stats.perConnection
      findings.check(
        stats.messages === total && stats.violationCount === 0 && perConnection.length === CONNECTIONS &&
          perConnection.every((n) => n === MESSAGES),
        `the server received every message exactly once, in order: ${count(stats.messages)} (${count(CONNECTIONS)} connections × ${count(MESSAGES)}, no gap, duplicate or reordering)`,
        `the server received ${count(stats.messages)} of ${count(total)} messages; ${stats.violationCount} order violations: ${stats.violations.slice(0, 3).join("; ")}`
      )
      findings.check(
        acked === total && complete === CONNECTIONS && errors.length === 0,
        `every client got all ${count(MESSAGES)} acknowledgements in order (${count(complete)} of ${count(CONNECTIONS)} clients)`,
        `${count(complete)} of ${count(CONNECTIONS)} clients complete, ${count(acked)} of ${count(total)} acknowledgements: ${errors.slice(0, 2).join("; ")}`
      )
      findings.check(
        (stats.outcomes["end"] ?? 0) === CONNECTIONS,
        `every connection ended cleanly (${tallyText(stats.outcomes)})`,
        `connections ended with ${tallyText(stats.outcomes)}`
      )
      findings.note(`throughput ${rate(total, elapsed)} messages/s into the server, ${rate(total + acked, elapsed)} messages/s both ways`)
      findings.check(
        afterFds === baseline,
        `server descriptors ${baseline} before, ${peakFds[0]} at peak, ${afterFds} after`,
        `server descriptors ${baseline} before, ${peakFds[0]} at peak, ${afterFds} after`
      )
      // RSS keeps the allocator's high-water mark after a million buffers; the JS heap after a
      // full GC is what the server still holds.
      findings.check(
        heapKept(before, after),
        `nothing kept after the connections closed: server ${memoryText(before, peakRss[0]!, after)}`,
        `server ${memoryText(before, peakRss[0]!, after)}: the JS heap kept ${mb((after.heap ?? 0) - (before.heap ?? 0))} MB`
      )
    })
}
