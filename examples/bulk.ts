import { Cause, Effect, Stream } from "effect"
import { UnixServer, UnixSocket } from "unix-socket-fd-passing"
import * as NodeUnix from "unix-socket-fd-passing/node"

const program = Effect.gen(function*() {
  const server = yield* UnixServer.listen({ address: "@bulk-quickstart" })
  const sender = yield* UnixSocket.connect({ address: "@bulk-quickstart" })
  const [receiver] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)

  // 64 MiB in 256 KiB messages, then end of stream.
  const chunk = new Uint8Array(256 * 1024).fill(42)
  yield* Effect.forkScoped(Effect.gen(function*() {
    for (let i = 0; i < 256; i++) yield* sender.send(chunk)
    yield* sender.end
  }))

  // Every message lands in this one buffer: nothing is allocated per message.
  const buffer = new Uint8Array(1024 * 1024)
  let messages = 0
  let sum = 0
  for (;;) {
    const received = yield* receiver!.receiveInto(buffer).pipe(
      Effect.catchIf(Cause.isDone, () => Effect.succeed(undefined)) // the sender ended the stream
    )
    if (received === undefined) break
    messages++
    for (const byte of buffer.subarray(0, received.length)) sum += byte
  }
  console.log(`${messages} messages, ${sum / 42 / 1024 / 1024} MiB, one buffer`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
