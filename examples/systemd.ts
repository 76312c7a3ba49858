import { Effect } from "effect"
import { Message, Systemd, UnixServer } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

// superd.socket:  [Socket]  ListenStream=/run/superd.sock  FileDescriptorName=api
// superd.service: [Service] Type=notify  ExecStart=/usr/bin/node /opt/superd/systemd.js
const program = Effect.gen(function*() {
  const servers = yield* UnixServer.fromListenFds() // the sockets systemd opened for us, by name
  if (servers.length === 0) return yield* Effect.logError("not socket-activated: no LISTEN_FDS for this process")
  yield* Systemd.notify({ READY: 1, STATUS: `serving ${servers.map((server) => server.name).join(", ")}` })
  yield* Effect.forEach(servers, (server) =>
    server.serve((connection) =>
      connection.handleMessages((message) => connection.send(`${server.name}: ${Message.text(message)}`))
    ), { concurrency: "unbounded", discard: true })
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
