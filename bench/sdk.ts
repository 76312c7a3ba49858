/**
 * The SDK contender: this package's public API, the same file under Node.js, Bun and Deno
 * (the driver layer is the running runtime's adapter). Framed STREAM unless type=seqpacket.
 *
 *   node --expose-gc --import tsx bench/sdk.ts <server|client> <workload> <socket path> key=value...
 *   (the bench itself runs it in Node.js as bench/.build/sdk.mjs, built by bench/run.ts)
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Connection, Fd, Message, Policy, UnixServer, UnixSocket } from "../src/index.ts"
import type { Unsupported } from "../src/Errors.ts"
import type { UnixDriver } from "../src/UnixDriver.ts"
import {
  fail,
  finish,
  MEASURE_BYTE,
  measurementRequest,
  MEASURE_REPLY,
  type Options,
  parseMeasurementRequest,
  parseOptions,
  printReady,
  range,
  Repeats,
  sample,
  settle,
  stepTargets,
  until,
  waitForGo
} from "./contender.ts"

// Literal specifiers, so that the bench's Node.js build (esbuild, bench/run.ts) bundles them;
// only the running runtime's adapter is evaluated.
const driver: Layer.Layer<UnixDriver, Unsupported> = "Bun" in globalThis
  ? (await import("../adapters/bun/index.ts")).layer
  : "Deno" in globalThis
  ? (await import("../adapters/deno/index.ts")).layer
  : (await import("../adapters/node/index.ts")).layer

type Program = Effect.Effect<void, unknown, UnixDriver | Scope.Scope>

const ACK = new Uint8Array([107])

// ---------------------------------------------------------------------------------------
// Servers

// Servers handle messages the way the README shows a daemon doing it: `serve`, and
// `connection.handleMessages` per connection (bulk transfer: `receiveInto` one buffer, as the
// README shows for it); clients read each reply with `receive`.

/** Echoes every message back (latency, concurrent). */
const echo = (connection: Connection.Connection) => connection.handleMessages((message) => connection.send(message.data))

/** Closes every received descriptor and acknowledges every `batch` messages (throughput, fds). */
const sink = (options: Options) => (connection: Connection.Connection) =>
  Effect.suspend(() => {
    let received = 0
    return connection.handleMessages((message) => {
      Fd.closeAll(message.fds)
      return ++received % options.batch === 0 ? connection.send(ACK) : Effect.void
    })
  })

/** Reads every message into one buffer (`receiveInto`) and acknowledges every `batch` messages (throughput). */
const bulkSink = (options: Options) => (connection: Connection.Connection) =>
  Effect.suspend(() => {
    const buffer = new Uint8Array(options.size)
    let received = 0
    const next = (): Effect.Effect<void, unknown> =>
      Effect.flatMap(connection.receiveInto(buffer), (message) => {
        Fd.closeAll(message.fds)
        return ++received % options.batch === 0 ? Effect.flatMap(connection.send(ACK), next) : next()
      })
    return Effect.catchIf(next(), Cause.isDone, () => Effect.void)
  })

/** Counts connections and messages; answers measurement requests once the counts are reached. */
const memoryServer = (options: Options): Program =>
  Effect.gen(function*() {
    const server = yield* UnixServer.listen({ address: options.address })
    let accepted = 0
    let messages = 0
    printReady()
    yield* server.serve((connection) => {
      accepted++
      return connection.handleMessages((message) => {
        if (message.data[0] !== MEASURE_BYTE) {
          messages++
          return Effect.void
        }
        const wanted = parseMeasurementRequest(Message.text(message))
        return Effect.gen(function*() {
          yield* Effect.promise(() => until(() => accepted >= wanted.conns && messages >= wanted.messages))
          yield* Effect.promise(settle)
          yield* connection.send(MEASURE_REPLY)
        })
      })
    })
  })

const server = (options: Options): Program => {
  if (options.workload === "idle" || options.workload === "messages") return memoryServer(options)
  return Effect.gen(function*() {
    const server = yield* UnixServer.listen({ address: options.address, type: options.type, authorize: Policy.sameUser })
    printReady()
    switch (options.workload) {
      case "latency":
      case "concurrent":
        return yield* server.serve(echo)
      case "throughput":
        return yield* server.serve(bulkSink(options))
      case "fds":
        return yield* server.serve(sink(options))
      case "accept":
        // Accepting is where the policy runs (SO_PEERCRED, before any byte is read): take each
        // authorized connection and close it at once.
        return yield* Stream.runForEach(server.connections, (connection) => connection.close)
    }
  })
}

// ---------------------------------------------------------------------------------------
// Clients

/** One connection: round trips (latency), or batches then an acknowledgement (throughput, fds). */
const oneConnection = (options: Options): Program =>
  Effect.gen(function*() {
    const connection = yield* UnixSocket.connect({ address: options.address, type: options.type })
    const fds = options.workload === "fds" ? yield* Effect.forEach(range(options.fds), () => Fd.open("/dev/null")) : []
    const message = { data: new Uint8Array(options.size), fds }
    const repeats = new Repeats(options)
    repeats.start()
    if (options.workload === "latency") {
      do {
        yield* connection.send(message.data)
        yield* connection.receive
      } while (repeats.record(1))
    } else {
      do {
        for (let i = 0; i < options.batch; i++) yield* connection.send(message)
        yield* connection.receive
      } while (repeats.record(options.batch))
    }
    finish({ repeats: repeats.results })
  })

/** `window` workers, each connecting and waiting until the server has closed its connection. */
const acceptClient = (options: Options): Program =>
  Effect.gen(function*() {
    const repeats = new Repeats(options)
    const cycle = Effect.scoped(
      Effect.flatMap(UnixSocket.connect({ address: options.address }), (connection) => connection.handleMessages(() => Effect.void))
    )
    const worker = Effect.gen(function*() {
      do yield* cycle
      while (repeats.record(1))
    })
    repeats.start()
    yield* Effect.all(range(options.window).map(() => worker), { concurrency: "unbounded", discard: true })
    finish({ repeats: repeats.results })
  })

/** `conns` connections, each with one request in flight, sent round robin at the start. */
const concurrentClient = (options: Options): Program =>
  Effect.gen(function*() {
    const connections = yield* Effect.forEach(range(options.conns), () => UnixSocket.connect({ address: options.address }))
    const payload = new Uint8Array(options.size)
    const repeats = new Repeats(options, true)
    const worker = (connection: Connection.Connection) =>
      Effect.gen(function*() {
        for (;;) {
          const sent = performance.now()
          yield* connection.send(payload)
          yield* connection.receive
          repeats.latency((performance.now() - sent) * 1000)
          if (!repeats.record(1)) return
        }
      })
    repeats.start()
    yield* Effect.all(connections.map(worker), { concurrency: "unbounded", discard: true })
    finish({ repeats: repeats.results })
  })

/** idle and messages: open connections or send messages in steps, sampling the server at each. */
const memoryClient = (options: Options): Program =>
  Effect.gen(function*() {
    const control = yield* UnixSocket.connect({ address: options.address })
    const measure = (conns: number, messages: number, at: number) =>
      Effect.gen(function*() {
        yield* control.send(measurementRequest(conns, messages))
        yield* control.receive
        yield* Effect.promise(() => sample(at))
      })
    if (options.workload === "idle") {
      yield* measure(1, 0, 0)
      let opened = 0
      for (const target of stepTargets(options.conns, options.steps)) {
        for (; opened < target; opened++) yield* UnixSocket.connect({ address: options.address })
        yield* measure(1 + opened, 0, opened)
      }
    } else {
      const data = yield* UnixSocket.connect({ address: options.address })
      const payload = new Uint8Array(options.size)
      yield* measure(2, 0, 0)
      let sent = 0
      for (const target of stepTargets(options.count, options.steps)) {
        for (; sent < target; sent++) yield* data.send(payload)
        yield* measure(2, sent, sent)
      }
    }
    finish({ done: true })
  })

const client = (options: Options): Program => {
  switch (options.workload) {
    case "latency":
    case "throughput":
    case "fds":
      return oneConnection(options)
    case "accept":
      return acceptClient(options)
    case "concurrent":
      return concurrentClient(options)
    case "idle":
    case "messages":
      return memoryClient(options)
  }
}

const options = parseOptions()
// A client connects only once the runner says the server is ready ("go" on stdin).
const program = options.role === "server"
  ? server(options)
  : Effect.sync(printReady).pipe(Effect.andThen(Effect.promise(waitForGo)), Effect.andThen(client(options)))

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(driver))).catch(fail("sdk", options))
