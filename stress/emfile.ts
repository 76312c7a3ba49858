/**
 * Scenario 8, out of descriptors while accepting: a server process whose RLIMIT_NOFILE is
 * lowered to 64 (`prlimit --pid <server> --nofile=64:64`), and more clients than it can hold.
 *
 * Clients keep connecting past the limit; each sends a hello and waits for its echo. Those
 * the server could accept are served; the rest wait in the listen backlog while `accept4`
 * fails with EMFILE. Over a 3 s episode at the limit the server must back off instead of
 * spinning (its CPU time is measured), and keep serving the connections it has (one of them
 * pings throughout). Then earlier clients disconnect, a few at a time, and every waiting
 * client must be accepted and get its echo as descriptors free up.
 */
import { Effect, Fiber, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import type { Connection } from "../src/Connection.ts"
import { Fd, UnixSocket } from "../src/index.ts"
import {
  abstractName,
  ask,
  cpuSeconds,
  collected,
  type Findings,
  mb,
  type Scenario,
  secs,
  settledFds,
  startHelper,
  statsWhen,
  steadyFds,
  tallyText
} from "./support.ts"

const LIMIT = 64
const CLIENTS = 80
const EPISODE_MS = 3000
const CPU_BOUND = 0.3
const RELEASE_STEP = 10

/**
 * How many of the descriptor numbers below `limit` are open in `pid`: RLIMIT_NOFILE bounds
 * the numbers, so a process is out of descriptors when all of them are taken (a descriptor
 * inherited with a higher number does not count).
 */
const slotsInUse = (pid: number, limit: number): number =>
  fs.readdirSync(`/proc/${pid}/fd`).filter((name) => Number(name) < limit).length

interface Client {
  readonly index: number
  readonly connection: Connection
  echoes: number
  closed: boolean
}

export const emfile: Scenario = {
  name: "emfile",
  title: "Out of descriptors while accepting",
  about:
    `A server process has its RLIMIT_NOFILE lowered to ${LIMIT} (\`prlimit --pid <server> --nofile=${LIMIT}:${LIMIT}\`) and ${CLIENTS} clients ` +
    "connect, each sending a hello and waiting for its echo: those past the limit wait in the listen backlog while " +
    `\`accept4\` fails with EMFILE. For ${EPISODE_MS / 1000} s at the limit the server's CPU time is measured while one ` +
    "accepted client keeps pinging, and another sends a descriptor the server has no room for; then accepted clients " +
    `disconnect ${RELEASE_STEP} at a time. It proves the accept loop backs off instead of spinning, that connections ` +
    "already accepted keep working, that a descriptor the kernel cannot install ends only its own connection " +
    "(`ControlTruncated`), and that waiting clients are accepted and served as soon as descriptors free up.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = `${CLIENTS} clients against a server limited to ${LIMIT} descriptors; ${EPISODE_MS / 1000} s at the limit; clients leaving ${RELEASE_STEP} at a time`
      const server = yield* startHelper("server.ts")
      const { address } = yield* ask(server, "listen", { name: "echo", address: abstractName("emfile"), handler: "echo", timeoutMs: 120_000 })
      // Warm up, so that everything the server loads is loaded while it still may open files.
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* UnixSocket.connect({ address })
        yield* client.send("warm-up")
        yield* client.messages.pipe(Stream.take(1), Stream.runDrain)
      }))
      yield* statsWhen(server, "echo", (s) => s.open === 0)
      // Then lower its limit (starting under the limit would fail: Node's module loader opens
      // files by the hundred).
      execFileSync("prlimit", ["--pid", String(server.pid), `--nofile=${LIMIT}:${LIMIT}`])
      yield* ask(server, "reset", { name: "echo" })
      const baseline = yield* steadyFds(server.pid)
      const before = yield* collected(server)

      const clients: Array<Client> = []
      const readers: Array<Fiber.Fiber<unknown, unknown>> = []
      yield* Effect.scoped(Effect.gen(function*() {
        for (let index = 0; index < CLIENTS; index++) {
          const connection = yield* UnixSocket.connect({ address })
          const client: Client = { index, connection, echoes: 0, closed: false }
          clients.push(client)
          yield* connection.send(`hello ${index}`)
          readers.push(yield* Effect.forkChild(
            Stream.runForEach(connection.messages, () => Effect.sync(() => void client.echoes++)).pipe(Effect.ignore)
          ))
        }
        yield* Effect.sleep(1500)
        const served = () => clients.filter((c) => c.echoes > 0)
        const firstServed = served().length
        const atLimit = slotsInUse(server.pid, LIMIT)
        findings.check(
          firstServed < CLIENTS && atLimit === LIMIT,
          `the server accepted ${firstServed} clients and reached its limit (all ${LIMIT} descriptors in use); ${CLIENTS - firstServed} clients waited in the backlog`,
          `expected the server to run out of descriptors: ${firstServed} of ${CLIENTS} served, ${atLimit} of ${LIMIT} descriptors in use`
        )

        // The episode at the limit: the accept loop must sleep, the accepted connections work.
        const keeper = served()[0]!
        const pings = EPISODE_MS / 100
        const cpuBefore = cpuSeconds(server.pid)
        const echoesBefore = keeper.echoes
        for (let i = 0; i < pings; i++) {
          yield* keeper.connection.send(`ping ${i}`)
          yield* Effect.sleep(100)
        }
        yield* Effect.sleep(100)
        const cpu = cpuSeconds(server.pid) - cpuBefore
        findings.check(
          cpu <= CPU_BOUND,
          `at the limit the server backed off: ${cpu.toFixed(2)} s of CPU in ${secs(EPISODE_MS)} s (no busy loop)`,
          `at the limit the server used ${cpu.toFixed(2)} s of CPU in ${secs(EPISODE_MS)} s (bound ${CPU_BOUND} s): a busy loop`
        )
        findings.check(
          keeper.echoes - echoesBefore === pings,
          `an accepted connection kept working meanwhile (${pings} of ${pings} pings echoed)`,
          `an accepted connection got ${keeper.echoes - echoesBefore} of ${pings} pings echoed while the server was at its limit`
        )

        // A descriptor sent to a process that has none left: that connection alone must end,
        // with ControlTruncated (the kernel could not install it), and its slot goes to a
        // waiting client.
        const giver = served().find((c) => c !== keeper)!
        const devNull = yield* Fd.open("/dev/null")
        yield* giver.connection.send({ data: "a descriptor", fds: [devNull] })
        devNull.close()
        const truncated = yield* statsWhen(server, "echo", (s) => (s.outcomes["ControlTruncated"] ?? 0) > 0, 5000)
        giver.closed = true
        findings.check(
          (truncated.outcomes["ControlTruncated"] ?? 0) === 1,
          "a message carrying a descriptor to the server at its limit ended that connection alone, with ControlTruncated",
          `a message carrying a descriptor to the server at its limit: outcomes ${tallyText(truncated.outcomes)}`
        )

        // Release: accepted clients leave a few at a time; the waiting ones must be served.
        const releaseStart = performance.now()
        let rounds = 0
        while (served().length < CLIENTS && rounds < 20) {
          rounds++
          const leaving = served().filter((c) => !c.closed && c !== keeper).slice(0, RELEASE_STEP)
          for (const client of leaving) {
            client.closed = true
            yield* client.connection.close
          }
          const target = Math.min(CLIENTS, served().length + leaving.length)
          const deadline = performance.now() + 5000
          while (served().length < target && performance.now() < deadline) yield* Effect.sleep(20)
        }
        const releaseMs = performance.now() - releaseStart
        findings.check(
          served().length === CLIENTS,
          `as clients left, ${RELEASE_STEP} at a time, every waiting client was accepted and got its echo (${CLIENTS - firstServed} of ${CLIENTS - firstServed}, in ${secs(releaseMs)} s over ${rounds} rounds)`,
          `after ${rounds} rounds of clients leaving, ${served().length} of ${CLIENTS} clients had their echo`
        )
        for (const reader of readers) yield* Fiber.interrupt(reader)
        for (const client of clients) yield* client.connection.close
      }))

      const stats = yield* statsWhen(server, "echo", (s) => s.handled >= CLIENTS && s.open === 0, 10_000)
      const afterFds = yield* settledFds(server.pid, baseline)
      const after = yield* collected(server)
      findings.amount = `${CLIENTS} clients, ${LIMIT}-descriptor limit, ${EPISODE_MS / 1000} s at the limit`
      findings.check(
        (stats.outcomes["end"] ?? 0) === CLIENTS - 1 && stats.violationCount === 0 && stats.serveFailure === undefined,
        `every other connection ended cleanly (${tallyText(stats.outcomes)}), the listener never failed`,
        `connections ended with ${tallyText(stats.outcomes)}; listener: ${stats.serveFailure ?? "serving"}`
      )
      findings.check(
        afterFds === baseline,
        `server descriptors ${baseline} before, ${afterFds} after`,
        `server descriptors ${baseline} before, ${afterFds} after`
      )
      findings.note(`server RSS ${mb(before.rss)} MB before, ${mb(after.rss)} MB after (after a full GC each time); ${(after.cpu - before.cpu).toFixed(1)} s CPU in all`)
    })
}
