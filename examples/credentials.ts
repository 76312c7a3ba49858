import { Effect, Stream } from "effect"
import { Message, Pidfd, UnixServer, UnixSocket } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

const program = Effect.gen(function*() {
  const server = yield* UnixServer.listen({ address: "@credentials-quickstart", passCredentials: true })
  const client = yield* UnixSocket.connect({ address: "@credentials-quickstart" })
  const [worker] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)

  // SO_PEERCRED: who connected, read at accept before any byte (what `authorize` checks).
  console.log(`connected: pid ${worker!.peer.pid}, uid ${worker!.peer.uid}, gid ${worker!.peer.gid}`)

  // SCM_CREDENTIALS: who sent this message, per message (passCredentials: true).
  yield* client.send("status?")
  const [message] = yield* worker!.messages.pipe(Stream.take(1), Stream.runCollect)
  console.log(`${Message.text(message!)} sent by pid ${message!.credentials?.pid}`)

  // SO_PEERPIDFD: the peer process itself, immune to pid reuse. A supervisor would send
  // SIGTERM and then wait with Pidfd.exited; the peer here is this very process, so: SIGCONT.
  using pidfd = yield* worker!.peer.pidfd
  yield* Pidfd.signal(pidfd, "SIGCONT")
  console.log(`signalled pid ${worker!.peer.pid} through its pidfd`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
