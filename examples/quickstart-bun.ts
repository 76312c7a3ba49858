import { Effect, Stream } from "effect"
import { Fd, Message, Policy, UnixServer, UnixSocket } from "unix-socket-fd-passing"
import * as BunUnix from "unix-socket-fd-passing/bun"

const address = "@superd-quickstart" // a Linux abstract name (no file); or a path: "/run/superd.sock"

const program = Effect.gen(function*() {
  // superd: accept only our own uid (and root), hand each peer an open file.
  const server = yield* UnixServer.listen({
    address,
    authorize: Policy.sameUser, // the default; also allowUids, allowGids, any, all, custom
    onRejected: (rejected) => Effect.log(`refused uid ${rejected.peer.uid}`)
  })
  yield* Effect.forkScoped(server.serve((romd) =>
    Effect.gen(function*() {
      yield* Effect.log(`romd is pid ${romd.peer.pid}, uid ${romd.peer.uid}`)
      const fd = yield* Fd.open("/etc/hostname")
      yield* romd.send({ data: "hostname", fds: [fd] })
      fd.close() // sending never takes ownership: close yours once send resolves
    })
  ))

  // romd (a separate program in real life): connect, receive the descriptor, read through it.
  const superd = yield* UnixSocket.connect({ address })
  yield* Effect.log(`superd is pid ${superd.peer.pid}, uid ${superd.peer.uid}`)
  const [message] = yield* superd.messages.pipe(Stream.take(1), Stream.runCollect)
  using fd = message!.fds[0]! // received descriptors are yours: `using` closes this one
  const text = yield* Effect.promise(() => Bun.file(fd.value).text()) // Bun reads the number
  console.log(`${Message.text(message!)}: ${text.trim()}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(BunUnix.layer)))
