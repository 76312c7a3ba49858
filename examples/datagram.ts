import { Effect } from "effect"
import { Message, UnixDatagram } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

const program = Effect.gen(function*() {
  // A collector with a well-known name that asks the kernel who sends each datagram.
  const collector = yield* UnixDatagram.bind({ address: "@collector-quickstart", passCredentials: true })
  // A reporter with a name the kernel picks (autobind), so the collector can answer it.
  const reporter = yield* UnixDatagram.bind()

  yield* reporter.sendTo("@collector-quickstart", "load=0.42")
  const datagram = yield* collector.receive
  console.log(`${Message.text(datagram)} from ${datagram.from.text}, pid ${datagram.credentials?.pid}`)

  yield* collector.sendTo(datagram.from.text, "thanks")
  console.log(`reporter got: ${Message.text(yield* reporter.receive)}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
