/**
 * Scenario 2, oversized frames: headers announcing up to `limits.maxMessageBytes` cost only
 * what arrived, and a header over the limit fails at once.
 *
 * A thousand raw peers each announce a frame just under the 16 MiB default and send 64 bytes
 * of it, and stay connected: were the decoder to allocate the announced size up front, the
 * server would need 16 GiB; it must grow by a few MB. Then a few of them send another MiB,
 * and the server must grow with what arrived. Then headers over the limit (just over, and up
 * to 4 GiB) must end their connections with `MessageTooLarge` carrying the announced size and
 * the limit, without waiting for a payload that will never come.
 */
import { Effect, type Scope, Stream } from "effect"
import { defaultLimits } from "../src/Connection.ts"
import type { Connection } from "../src/Connection.ts"
import { UnixSocket } from "../src/index.ts"
import type { UnixDriver } from "../src/UnixDriver.ts"
import {
  abstractName,
  ask,
  count,
  cpuSeconds,
  type Findings,
  collected,
  heapKept,
  type Helper,
  mb,
  memoryText,
  MiB,
  rss,
  type Scenario,
  settledFds,
  startHelper,
  steadyFds,
  tallyText,
  watchPeaks
} from "./support.ts"
import { header } from "./wire.ts"

const HOLDERS = 1000
const ANNOUNCED = defaultLimits.maxMessageBytes - 1
const SENT_EACH = 64
const GROWERS = 16
const OVER_LIMIT = 200

/** Waits until the server handed `n` connections to its handler and its CPU went quiet. */
const serverSettled = (server: Helper, name: string, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const stats = yield* ask(server, "stats", { name })
      if (stats.handled >= n) break
      yield* Effect.sleep(20)
    }
    let cpu = cpuSeconds(server.pid)
    for (let i = 0; i < 50; i++) {
      yield* Effect.sleep(200)
      const again = cpuSeconds(server.pid)
      if (again - cpu < 0.02) return
      cpu = again
    }
  })

const rawPeer = (address: string): Effect.Effect<Connection, unknown, UnixDriver | Scope.Scope> =>
  UnixSocket.connect({ address, framing: "raw" })

/** Sends a header over the limit and measures how long until the server hangs up. */
const overLimit = (address: string, announced: number): Effect.Effect<number, unknown, UnixDriver> =>
  Effect.scoped(Effect.gen(function*() {
    const peer = yield* rawPeer(address)
    const start = performance.now()
    yield* peer.send(header(announced, 0))
    yield* Stream.runDrain(peer.messages).pipe(Effect.ignore, Effect.timeout(5000))
    return performance.now() - start
  }))

export const oversize: Scenario = {
  name: "oversize",
  title: "Oversized frame headers",
  about:
    `${count(HOLDERS)} raw peers each announce a frame just under the 16 MiB \`maxMessageBytes\` default, send 64 bytes of ` +
    `it and stay connected; then ${GROWERS} of them send one more MiB; then ${OVER_LIMIT} peers send headers over the ` +
    "limit (just over, and up to 4 GiB). It proves the decoder allocates what arrived, never what a header announces " +
    "(a hostile peer cannot make the server reserve 16 MiB with an 8-byte header), and that a header over the limit " +
    "ends its connection at once with `MessageTooLarge` carrying the announced size and the limit, while the " +
    "server's descriptors return to their baseline.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = `${count(HOLDERS)} connections each announcing ${count(ANNOUNCED)} bytes and sending ${SENT_EACH}; headers over the limit`
      const server = yield* startHelper("server.ts")
      const { address } = yield* ask(server, "listen", {
        name: "big",
        address: abstractName("oversize"),
        handler: "sink",
        backlog: 2048,
        timeoutMs: 300_000
      })
      // Warm up: one connection that announces and completes a frame.
      yield* Effect.scoped(Effect.gen(function*() {
        const peer = yield* rawPeer(address)
        yield* peer.send(new Uint8Array([...header(3, 0), 1, 2, 3]))
      }))
      yield* serverSettled(server, "big", 1)
      yield* ask(server, "reset", { name: "big" })
      const baseline = yield* steadyFds(server.pid)
      const before = yield* collected(server)

      const { peakRss } = yield* watchPeaks([server.pid], Effect.scoped(Effect.gen(function*() {
        // Phase 1: a thousand 16 MiB announcements, 64 bytes each.
        const holders = yield* Effect.forEach(
          Array.from({ length: HOLDERS }),
          () =>
            Effect.gen(function*() {
              const peer = yield* rawPeer(address)
              yield* peer.send(new Uint8Array([...header(ANNOUNCED, 0), ...new Uint8Array(SENT_EACH).fill(7)]))
              return peer
            }),
          { concurrency: 64 }
        )
        yield* serverSettled(server, "big", HOLDERS)
        const held = rss(server.pid)
        findings.check(
          held - before.rss < 64 * MiB,
          `${count(HOLDERS)} open frames announcing 16 MiB each (16 GiB if allocated up front) grew the server by ${mb(held - before.rss)} MB`,
          `${count(HOLDERS)} open frames announcing 16 MiB each grew the server by ${mb(held - before.rss)} MB (limit 64 MB)`
        )

        // Phase 2: some of them send a MiB more; the server grows with what arrived.
        const chunk = new Uint8Array(MiB).fill(9)
        yield* Effect.forEach(holders.slice(0, GROWERS), (peer) => peer.send(chunk), { concurrency: GROWERS })
        yield* serverSettled(server, "big", HOLDERS)
        const grown = rss(server.pid)
        findings.check(
          grown - held <= 4 * GROWERS * MiB,
          `${GROWERS} MiB more arriving grew it by ${mb(grown - held)} MB (buffers grow with what arrives, doubling)`,
          `${GROWERS} MiB more arriving grew the server by ${mb(grown - held)} MB (more than 4× what arrived)`
        )

        // Phase 3: headers over the limit end their connections at once.
        const announced = Array.from({ length: OVER_LIMIT }, (_, i) =>
          i % 2 === 0 ? defaultLimits.maxMessageBytes + 1 + i : 0xffffffff - i * 7919)
        const times = yield* Effect.forEach(announced, (n) => overLimit(address, n))
        const sorted = [...times].sort((a, b) => a - b)
        const stats = yield* ask(server, "stats", { name: "big" })
        const tooLarge: Array<readonly [number, number]> = stats.tooLarge
        const fieldsRight = tooLarge.length === OVER_LIMIT &&
          tooLarge.every(([size, limit]) => limit === defaultLimits.maxMessageBytes && announced.includes(size))
        findings.check(
          (stats.outcomes["MessageTooLarge"] ?? 0) === OVER_LIMIT && fieldsRight && sorted[sorted.length - 1]! < 1000,
          `${OVER_LIMIT} headers over the limit each ended with MessageTooLarge (size = the announced length, limit = ${count(defaultLimits.maxMessageBytes)}), the peer saw the hang-up after ${sorted[Math.floor(OVER_LIMIT / 2)]!.toFixed(1)} ms median, ${sorted[sorted.length - 1]!.toFixed(1)} ms at most`,
          `headers over the limit: outcomes ${tallyText(stats.outcomes)}; fields right: ${fieldsRight}; hang-up after ${sorted[sorted.length - 1]!.toFixed(1)} ms at most`
        )
        for (const peer of holders) yield* peer.close
      })))

      const stats = yield* ask(server, "stats", { name: "big" })
      const afterFds = yield* settledFds(server.pid, baseline)
      const after = yield* collected(server)
      findings.amount = `${count(HOLDERS)} × 16 MiB announced (${count(HOLDERS * SENT_EACH)} bytes sent), ${GROWERS} MiB more, ${OVER_LIMIT} headers over the limit`
      findings.check(
        (stats.outcomes["ProtocolError"] ?? 0) === HOLDERS && stats.violationCount === 0,
        `the ${count(HOLDERS)} peers that hung up mid-frame each ended with ProtocolError`,
        `outcomes: ${tallyText(stats.outcomes)}; ${stats.violations.join("; ")}`
      )
      findings.check(
        afterFds === baseline,
        `server descriptors ${baseline} before, ${afterFds} after`,
        `server descriptors ${baseline} before, ${afterFds} after`
      )
      findings.check(
        heapKept(before, after),
        `nothing kept once the peers left: server ${memoryText(before, peakRss[0]!, after)}`,
        `server ${memoryText(before, peakRss[0]!, after)}: the JS heap kept ${mb((after.heap ?? 0) - (before.heap ?? 0))} MB`
      )
    })
}
