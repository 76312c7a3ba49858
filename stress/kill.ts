/**
 * Scenario 4, peers killed mid-frame: one server, a thousand peers in a row that each write
 * part of a frame and die by SIGKILL.
 *
 * Starting a thousand Node.js processes would take minutes, so the peers are forked by one
 * Python process (stress/peers.py kill-mid-frame). After each death that process sends a frame
 * on its own long-lived connection and must get the echo: the server kept serving others.
 * Each victim's connection must end on its own with `ProtocolError` (or `Closed`), and the
 * server's descriptors, including the ones victims sent with their half frames, must come
 * back to their baseline.
 */
import { Effect, Stream } from "effect"
import { UnixSocket } from "../src/index.ts"
import {
  abstractName,
  ask,
  count,
  collected,
  type Findings,
  heapKept,
  Helper,
  mb,
  memoryText,
  type Scenario,
  settledFds,
  started,
  startHelper,
  statsWhen,
  steadyFds,
  tallyText,
  watchPeaks
} from "./support.ts"

const VICTIMS = 1000

export const killMidFrame: Scenario = {
  name: "kill",
  title: "Peers SIGKILLed mid-frame",
  about:
    `One Python process forks ${count(VICTIMS)} peers in a row against one framed echo server; each connects, writes part ` +
    "of a frame (part of a header; a header and part of its payload; or that with a descriptor attached) and " +
    "SIGKILLs itself. After each death the Python parent sends a frame on its own long-lived connection and waits for " +
    "the echo. It proves that a peer dying mid-frame ends only its own connection, with `ProtocolError`, that the " +
    "server keeps serving the others every time, and that the descriptors of dead peers (their sockets and the " +
    "descriptors that came with their half frames) are all closed.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = "a peer writes part of a frame, then SIGKILLs itself; after each death another client must get its echo"
      const server = yield* startHelper("server.ts")
      const { address } = yield* ask(server, "listen", { name: "echo", address: abstractName("kill"), handler: "echo", timeoutMs: 60_000 })
      // Warm up with one well-behaved client, then take the baseline.
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* UnixSocket.connect({ address })
        yield* client.send("hello")
        yield* client.messages.pipe(Stream.take(1), Stream.runDrain)
      }))
      yield* statsWhen(server, "echo", (s) => s.open === 0)
      yield* ask(server, "reset", { name: "echo" })
      const baseline = yield* steadyFds(server.pid)
      const before = yield* collected(server)

      const { peakFds, peakRss, result } = yield* watchPeaks([server.pid], Effect.scoped(Effect.gen(function*() {
        const { helper: killer } = yield* started(() => Helper.python("peers.py", ["kill-mid-frame", address, String(VICTIMS)]))
        const done = yield* Effect.promise(() => killer.event((e) => e.event === "done", 240_000))
        // The keeper's connection is still open: every other connection must have ended.
        const stats = yield* statsWhen(server, "echo", (s) => s.handled >= VICTIMS + 1 && s.open === 1, 10_000)
        return { done, stats }
      })))
      const { done, stats } = result
      const afterFds = yield* settledFds(server.pid, baseline)
      const final = yield* statsWhen(server, "echo", (s) => s.open === 0, 5000)
      const after = yield* collected(server)

      findings.amount = `${count(done.killed)} peers killed mid-frame in ${done.seconds} s, ${count(done.echoed)} echoes in between`
      findings.check(
        done.killed === VICTIMS && done.notKilled === 0,
        `${count(done.killed)} peers died by SIGKILL mid-frame`,
        `${done.killed} of ${VICTIMS} peers died by SIGKILL (${done.notKilled} did not)`
      )
      findings.check(
        done.echoed === VICTIMS && done.echoFailures === 0,
        `after every death the long-lived client got its echo (${count(done.echoed)} of ${count(VICTIMS)}, slowest ${done.slowestEchoMs} ms)`,
        `the long-lived client got ${done.echoed} of ${VICTIMS} echoes: ${done.firstFailure}`
      )
      const errors = (stats.outcomes["ProtocolError"] ?? 0) + (stats.outcomes["Closed"] ?? 0)
      findings.check(
        errors === VICTIMS && Object.keys(stats.outcomes).every((o) => o === "ProtocolError" || o === "Closed") && stats.open === 1,
        `each victim's connection ended on its own: ${tallyText(stats.outcomes)}; the long-lived connection stayed open throughout`,
        `victims' connections ended with ${tallyText(stats.outcomes)} (expected ${VICTIMS} ProtocolError or Closed), ${stats.open} still open (expected 1)`
      )
      findings.check(
        (final.outcomes["end"] ?? 0) === 1,
        "the long-lived connection ended cleanly when its process exited",
        `the long-lived connection ended with ${tallyText(final.outcomes)}`
      )
      findings.check(
        afterFds === baseline,
        `server descriptors ${baseline} before, ${peakFds[0]} at most during, ${afterFds} after`,
        `server descriptors ${baseline} before, ${peakFds[0]} at most during, ${afterFds} after`
      )
      findings.check(
        heapKept(before, after),
        `nothing kept of the dead peers: server ${memoryText(before, peakRss[0]!, after)}`,
        `server ${memoryText(before, peakRss[0]!, after)}: the JS heap kept ${mb((after.heap ?? 0) - (before.heap ?? 0))} MB`
      )
    })
}
