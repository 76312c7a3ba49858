/**
 * romd: a worker that connects to superd, receives an open file descriptor, and reads the
 * file through it.
 *
 *   node --import tsx examples/romd.ts <socket path>
 *
 * Exits 0 after reading, 3 if superd closed the connection without handing anything over
 * (it refused us).
 */
import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as NodeUnix from "unix-socket-fd-passing/node"
import { Message, UnixSocket } from "unix-socket-fd-passing"

const [address = "/tmp/superd.sock"] = process.argv.slice(2)
const log = (line: string) => Effect.sync(() => console.log(`romd[${process.pid}, uid ${process.getuid!()}]: ${line}`))

const program = Effect.gen(function*() {
  const superd = yield* UnixSocket.connect({ address })
  yield* log(`connected; the kernel says superd is pid ${superd.peer.pid}, uid ${superd.peer.uid}`)
  const [message] = yield* superd.messages.pipe(
    Stream.take(1),
    Stream.runCollect,
    Effect.catchTag("Closed", () => Effect.succeed([]))
  )
  if (message === undefined || message.fds.length === 0) {
    yield* log("superd closed the connection without handing anything over: refused")
    return 3
  }
  using fd = message.fds[0]!
  const content = fs.readFileSync(fd.value, "utf8")
  yield* log(`received "${Message.text(message)}" with descriptor ${fd.value}`)
  yield* log(`read through the received descriptor: ${JSON.stringify(content.trim())}`)
  yield* superd.send(`read ${Buffer.byteLength(content)} bytes, thanks`)
  return 0
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer))).then(
  (code) => process.exit(code),
  (error) => {
    console.error("romd failed:", error)
    process.exit(1)
  }
)
