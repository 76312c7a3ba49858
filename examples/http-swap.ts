// Zero-downtime upgrades: a worker serves HTTP on a listening socket and, when a successor
// starts, hands it the listening socket itself, then finishes what it had started and exits.
// Clients that connect meanwhile wait in the socket's backlog: none is refused.
//   node --import tsx examples/http-swap.ts /run/app/http.sock /run/app/handover.sock
//   (start it again, with the same paths, to replace the running worker)
import { Effect, Fiber, Stream } from "effect"
import * as http from "node:http"
import { Policy, UnixServer, UnixSocket } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

const [httpPath = "/tmp/http.sock", handoverPath = "/tmp/handover.sock"] = process.argv.slice(2)
const log = (line: string) => Effect.sync(() => console.log(`worker ${process.pid}: ${line}`))

/** The listening socket: taken over from the running worker, or made if there is none. */
const takeOver = Effect.gen(function*() {
  const predecessor = yield* UnixSocket.connect({ address: handoverPath })
  const [message] = yield* predecessor.messages.pipe(Stream.take(1), Stream.runCollect)
  const listener = yield* UnixServer.fromFd(message!.fds[0]!, { authorize: Policy.allowAll })
  yield* log(`took the listening socket over from pid ${predecessor.peer.pid}`)
  yield* predecessor.messages.pipe(Stream.runDrain, Effect.ignore) // it lets go of the handover address
  return listener
}).pipe(
  Effect.catchTags({
    AddressNotFound: () => UnixServer.listen({ address: httpPath, authorize: Policy.allowAll, mode: 0o666 }),
    ConnectionRefused: () => UnixServer.listen({ address: httpPath, authorize: Policy.allowAll, mode: 0o666 })
  })
)

const program = Effect.gen(function*() {
  const listener = yield* takeOver
  let draining = false
  const web = http.createServer((request, response) => {
    if (draining) response.setHeader("Connection", "close") // no new request on this connection
    response.end(`served by worker ${process.pid}\n`)
  })
  const open = new Set<NodeUnix.NetSocket>()
  const serving = yield* Effect.forkScoped(listener.connections.pipe(Stream.runForEach((connection) =>
    Effect.map(connection.detach, (fd) => {
      const socket = NodeUnix.toNetSocket(fd)
      open.add(socket)
      socket.once("close", () => open.delete(socket))
      web.emit("connection", socket)
    })
  )))
  const handover = yield* UnixServer.listen({ address: handoverPath }) // successors: our own uid only
  yield* log("serving")
  const [successor] = yield* handover.connections.pipe(Stream.take(1), Stream.runCollect)
  using fd = yield* listener.detach // stop accepting; the socket lives on in the successor
  yield* successor!.send({ data: "listener", fds: [fd] })
  yield* handover.close // the successor takes this address next
  yield* successor!.close
  yield* log("handed over; finishing the requests in flight")
  draining = true
  web.closeIdleConnections() // keep-alive connections between requests
  yield* Fiber.join(serving)
  while (open.size > 0) yield* Effect.sleep(10)
  yield* log("done")
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
