// The README's quick start, kept here so the type checker sees it exactly as printed.
import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import { Fd, Message, Policy, UnixServer, UnixSocket } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

// superd: accept only our own uid (and root), hand each peer an open file.
const superd = Effect.gen(function*() {
  const server = yield* UnixServer.listen({
    address: "/run/superd.sock",
    mode: 0o660,
    authorize: Policy.sameUser, // the default; also allowUids, allowGids, any, all, custom
    onRejected: (rejected) => Effect.log(`refused uid ${rejected.peer.uid}`)
  })
  yield* server.serve((romd) =>
    Effect.gen(function*() {
      yield* Effect.log(`romd is pid ${romd.peer.pid}, uid ${romd.peer.uid}`)
      const fd = yield* Fd.open("/etc/motd")
      yield* romd.send({ data: "motd", fds: [fd] })
      fd.close() // sending never takes ownership: close yours once send resolves
    })
  )
})

// romd: connect, receive the descriptor, read the file through it.
const romd = Effect.gen(function*() {
  const superd = yield* UnixSocket.connect({ address: "/run/superd.sock" })
  yield* superd.handleMessages((message) =>
    Effect.sync(() => {
      // received descriptors are yours; handleMessages closes the ones you leave
      console.log(Message.text(message), fs.readFileSync(message.fds[0]!.value, "utf8"))
    })
  )
})

Effect.runFork(superd.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
