/**
 * superd: a supervisor that accepts only peers running as its own uid (or root) and hands
 * each one an open file descriptor.
 *
 *   node --import tsx examples/superd.ts <socket path> <file to hand over>
 *
 * SIGTERM or SIGINT closes the listener and removes the socket file.
 */
import { Effect, Fiber, Stream } from "effect"
import * as NodeUnix from "unix-socket-fd-passing/node"
import { Fd, Message, Policy, UnixServer } from "unix-socket-fd-passing"

const [address = "/tmp/superd.sock", file = "/etc/hostname"] = process.argv.slice(2)
const log = (line: string) => Effect.sync(() => console.log(`superd: ${line}`))

const program = Effect.gen(function*() {
  const server = yield* UnixServer.listen({
    address,
    mode: 0o666, // anyone may connect at the file level: the uid policy is what keeps them out
    authorize: Policy.sameUser,
    onRejected: (rejected) => log(`REFUSED pid ${rejected.peer.pid} uid ${rejected.peer.uid}: not a trusted uid (policy ${rejected.policy})`)
  })
  const uid = process.geteuid!()
  yield* log(`listening on ${server.address.text}, trusting only uid ${uid}${uid === 0 ? "" : " and root"}`)
  yield* server.serve((romd) =>
    Effect.gen(function*() {
      yield* log(`accepted pid ${romd.peer.pid} uid ${romd.peer.uid}`)
      const fd = yield* Fd.open(file)
      yield* romd.send({ data: `open descriptor for ${file}`, fds: [fd] })
      fd.close() // romd has its own copy now
      yield* log(`handed ${file} to pid ${romd.peer.pid}`)
      const [reply] = yield* romd.messages.pipe(Stream.take(1), Stream.runCollect)
      if (reply !== undefined) yield* log(`pid ${romd.peer.pid} says: ${Message.text(reply)}`)
    })
  )
})

// The handlers go in before the program starts: it says "listening" as soon as it listens,
// and a signal sent right then must already find them. `on`, not `once`: a handler stays
// installed, so neither the runtime nor a loader (tsx) treats a second signal as unhandled.
const signals = ["SIGTERM", "SIGINT"] as const
let stop: ((signal: string) => void) | undefined
for (const signal of signals) process.on(signal, () => stop?.(signal))

const fiber = Effect.runFork(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
stop = (signal) => {
  stop = undefined
  console.log(`superd: ${signal}: closing the listener and removing ${address}`)
  Effect.runFork(Fiber.interrupt(fiber))
}
fiber.addObserver((exit) => {
  if (exit._tag === "Failure" && !exit.cause.reasons.every((r) => r._tag === "Interrupt")) {
    console.error("superd failed:", exit.cause)
    process.exitCode = 1
  }
  for (const signal of signals) process.removeAllListeners(signal) // let the process end
})
