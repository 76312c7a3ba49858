// A front process accepts HTTP clients on a unix socket and hands each accepted connection,
// still unread, to one of its workers as an open descriptor; the worker serves HTTP on it.
//   node --import tsx examples/http-front.ts front /run/app/http.sock /run/app/workers.sock
//   node --import tsx examples/http-front.ts worker /run/app/workers.sock      (one or more)
import { Effect, Stream } from "effect"
import * as http from "node:http"
import { type Connection, Policy, UnixServer, UnixSocket } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

const front = (httpPath: string, workersPath: string) =>
  Effect.gen(function*() {
    const pool = yield* UnixServer.listen({ address: workersPath }) // workers: our own uid only
    console.log(`front: waiting for workers on ${workersPath}`)
    const workers: Array<Connection.Connection> = []
    const join = (worker: Connection.Connection) =>
      Effect.sync(() => workers.push(worker)).pipe(
        Effect.andThen(worker.messages.pipe(Stream.runDrain, Effect.ignore)), // until it leaves
        Effect.ensuring(Effect.sync(() => workers.splice(workers.indexOf(worker), 1))),
        Effect.forkScoped
      )
    const [first] = yield* pool.connections.pipe(Stream.take(1), Stream.runCollect)
    yield* join(first!)
    yield* Effect.forkScoped(pool.connections.pipe(Stream.runForEach(join)))
    const clients = yield* UnixServer.listen({ address: httpPath, authorize: Policy.allowAll, mode: 0o666 })
    console.log(`front: listening on ${httpPath}`)
    let turn = 0
    yield* clients.connections.pipe(Stream.runForEach((client) =>
      Effect.gen(function*() {
        using fd = yield* client.detach // the accepted socket, not a byte read
        yield* workers[turn++ % workers.length]!.send({ data: "client", fds: [fd] }) // the worker gets its own copy
      })
    ))
  })

const worker = (workersPath: string) =>
  Effect.gen(function*() {
    const server = http.createServer((request, response) => response.end(`served by worker ${process.pid}\n`))
    const front = yield* UnixSocket.connect({ address: workersPath })
    console.log(`worker ${process.pid}: ready`)
    yield* front.handleMessages((message) =>
      Effect.sync(() => void server.emit("connection", NodeUnix.toNetSocket(message.fds[0]!)))
    )
  })

const [role, ...paths] = process.argv.slice(2)
const program = role === "front" ? front(paths[0]!, paths[1]!) : worker(paths[0]!)
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
