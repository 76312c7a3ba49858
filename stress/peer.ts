/**
 * The client process of the stress scenarios: `node --import tsx stress/peer.ts`.
 *
 * It waits for the runner's requests (stdin, see control.ts) and plays one client role per
 * request, using only the public API, then answers with what it observed. Being its own
 * process, it can be measured from the outside like the server: the backpressure scenario
 * watches its memory, the vanishing-reader scenario its descriptors.
 */
import { Effect, Exit, Fiber, Stream } from "effect"
import { Fd, UnixSocket } from "../src/index.ts"
import type { UnixDriver } from "../src/UnixDriver.ts"
import * as NodeUnix from "../adapters/node/index.ts"
import { event, type Json, main, ownFds, processRequests, ready, serveRequests } from "./control.ts"
import { healthPayload, readSequenceNumber, sequenceNumber, text } from "./wire.ts"


const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const error = Exit.findErrorOption(exit)
  if (error._tag === "Some") {
    const value = error.value as { _tag?: string }
    return value._tag ?? "untyped"
  }
  return Exit.hasInterrupts(exit) ? "interrupted" : "defect"
}

interface LoadResult {
  readonly acked: number
  readonly outOfOrder: number
  readonly error?: string
}

/**
 * One load client: sends `messages` sequence numbers as fast as the connection takes them
 * while reading the acknowledgements, which must come back exactly once and in order.
 */
const loadClient = (address: string, messages: number): Effect.Effect<LoadResult, never, UnixDriver> =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* UnixSocket.connect({ address })
    const sending = yield* Effect.forkChild(
      Stream.range(0, messages - 1).pipe(Stream.map(sequenceNumber), Stream.run(connection.sink))
    )
    let next = 0
    let outOfOrder = 0
    yield* connection.messages.pipe(
      Stream.take(messages),
      Stream.runForEach((ack) =>
        Effect.sync(() => {
          const n = readSequenceNumber(ack.data)
          if (n !== next) outOfOrder++
          next = n + 1
        })
      )
    )
    yield* Fiber.join(sending)
    return { acked: next, outOfOrder }
  })).pipe(
    Effect.timeout(240_000),
    Effect.catchCause((cause) => Effect.succeed({ acked: 0, outOfOrder: 0, error: String(cause).slice(0, 300) }))
  )

/**
 * One health check: a well-behaved client connects, sends a frame and must get its echo
 * within 2 s. Run from this process, not the runner, so its latency is the server's.
 */
const healthCheck = (address: string, n: number): Effect.Effect<boolean, never, UnixDriver> =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* UnixSocket.connect({ address })
    const payload = healthPayload(n)
    yield* connection.send(payload)
    const [echo] = yield* connection.messages.pipe(Stream.take(1), Stream.runCollect)
    return echo !== undefined && text(echo.data) === text(payload)
  })).pipe(Effect.timeout(2000), Effect.orElseSucceed(() => false))

const health = { ok: 0, failed: 0, slowestMs: 0, checking: undefined as Fiber.Fiber<never> | undefined }

const requests = {
  /** Starts checking every 100 ms that the server at `address` still answers (see `healthCheck`). */
  "health-start": (request: Json) =>
    Effect.gen(function*() {
      health.checking = yield* Effect.forkScoped(Effect.gen(function*() {
        for (let n = 0;; n++) {
          const start = performance.now()
          if (yield* healthCheck(request.address, n)) health.ok++
          else health.failed++
          health.slowestMs = Math.max(health.slowestMs, performance.now() - start)
          yield* Effect.sleep(100)
        }
      }))
    }),

  /** Stops the health checks and answers with how they went. */
  "health-stop": () =>
    Effect.gen(function*() {
      if (health.checking !== undefined) yield* Fiber.interrupt(health.checking)
      return { ok: health.ok, failed: health.failed, slowestMs: health.slowestMs }
    }),

  /** `connections` clients at once, each `messages` sequence numbers; answers with the totals. */
  load: (request: Json) =>
    Effect.gen(function*() {
      const start = performance.now()
      const results = yield* Effect.forEach(
        Array.from({ length: request.connections as number }),
        () => loadClient(request.address, request.messages),
        { concurrency: "unbounded" }
      )
      return {
        ms: performance.now() - start,
        connections: results.length,
        acked: results.reduce((n, r) => n + r.acked, 0),
        complete: results.filter((r) => r.acked === request.messages && r.outOfOrder === 0 && r.error === undefined).length,
        outOfOrder: results.reduce((n, r) => n + r.outOfOrder, 0),
        errors: results.flatMap((r) => r.error === undefined ? [] : [r.error]).slice(0, 5)
      }
    }),

  /**
   * Sends `bytes` in `chunk`-byte messages, one after the other, each `send` resolving once
   * the kernel holds it; reports the bytes sent so far every 50 ms.
   */
  bulk: (request: Json) =>
    Effect.scoped(Effect.gen(function*() {
      const connection = yield* UnixSocket.connect({ address: request.address })
      const chunk = new Uint8Array(request.chunk).fill(0x5a)
      let sent = 0
      const timer = setInterval(() => event("progress", { bytes: sent }), 50)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
      const start = performance.now()
      yield* Stream.range(1, Math.ceil(request.bytes / request.chunk)).pipe(
        Stream.runForEach(() => Effect.andThen(connection.send(chunk), Effect.sync(() => void (sent += chunk.length))))
      )
      yield* connection.end
      return { bytes: sent, ms: performance.now() - start }
    })),

  /** Sends `count` messages carrying one descriptor each (a dup of /dev/null), as fast as taken. */
  fds: (request: Json) =>
    Effect.scoped(Effect.gen(function*() {
      const connection = yield* UnixSocket.connect({ address: request.address })
      const devNull = yield* Fd.open("/dev/null")
      yield* Effect.addFinalizer(() => Effect.sync(() => devNull.close()))
      const message = { data: new Uint8Array(4), fds: [devNull] }
      const start = performance.now()
      yield* Stream.range(1, request.count).pipe(Stream.map(() => message), Stream.run(connection.sink))
      yield* connection.end
      return { sent: request.count, ms: performance.now() - start }
    })),

  /**
   * `rounds` times: connects to a reader that will vanish, sends a message larger than the
   * socket buffers and, queued behind it, one carrying descriptors; both sends must fail
   * with `Closed` once the reader is gone, without hanging.
   */
  blocked: (request: Json) =>
    Effect.gen(function*() {
      const big = new Uint8Array(request.bytes).fill(0x42)
      const devNull = yield* Fd.open("/dev/null")
      const before = ownFds()
      const outcomes: Record<string, number> = {}
      let slowestMs = 0
      for (let round = 0; round < request.rounds; round++) {
        const start = performance.now()
        const exits = yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* UnixSocket.connect({ address: request.address })
          const first = yield* Effect.forkChild(Effect.exit(connection.send(big)))
          const second = yield* Effect.forkChild(Effect.exit(connection.send({ data: "behind", fds: [devNull, devNull] })))
          return [yield* Fiber.join(first), yield* Fiber.join(second)] as const
        })).pipe(Effect.timeout(10_000), Effect.exit)
        slowestMs = Math.max(slowestMs, performance.now() - start)
        const names = Exit.isSuccess(exits) ? exits.value.map(tagOf) : [`round: ${tagOf(exits)}`]
        for (const name of names) outcomes[name] = (outcomes[name] ?? 0) + 1
      }
      devNull.close()
      return { rounds: request.rounds, outcomes, slowestMs, fdsBefore: before - 1, fdsAfter: ownFds() }
    }),

  ...processRequests
}

main(
  Effect.gen(function*() {
    yield* ready({ pid: process.pid })
    yield* serveRequests(requests)
  }).pipe(Effect.scoped, Effect.provide(NodeUnix.layer))
)
