import { Cause, Effect, Fiber, Logger, Stream } from "effect"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Message, UnixServer, UnixSocket } from "../../src/index.ts"
import { runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

describe("faults", () => {
  it("a peer killed mid-frame ends only its own connection, with an error; the server keeps serving", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/f.sock` })
      const outcomes: Array<string> = []
      const serving = yield* Effect.forkScoped(
        server.serve((connection) =>
          connection.handleMessages((message) => connection.send(message.data)).pipe(
            Effect.catch((error) => Effect.sync(() => void outcomes.push(error._tag)))
          )
        )
      )
      const victim = spawnPeer("kill-mid-frame", [server.address.text])
      const result = yield* Effect.promise(() => victim.exited)
      expect(result.signal).toBe("SIGKILL")
      const client = yield* UnixSocket.connect({ address: server.address.text })
      yield* client.send("still here?")
      const [reply] = yield* client.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(reply!)).toBe("still here?")
      expect(outcomes).toEqual(["ProtocolError"])
      const other = yield* Effect.promise(() => succeeded(spawnPeer("echo-client", [server.address.text, "stream", "length-prefixed", "10"])))
      expect(other).toContain("echoed 10")
      yield* Fiber.interrupt(serving)
    })))

  it("closing a server while serve runs ends its handlers without a warning each; a handler that fails while the server is open is logged", () =>
    runCountingFds(Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make((options) => void warnings.push(String(options.message)))
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* UnixServer.listen({ address: `${tempDir()}/q.sock` })
        const serving = yield* Effect.forkScoped(
          server.serve((connection) =>
            connection.handleMessages((message): Effect.Effect<void, unknown> =>
              Message.text(message) === "fail" ? Effect.fail("refused by the handler") : connection.send(message.data)
            )
          )
        )
        const failing = yield* UnixSocket.connect({ address: server.address.text })
        yield* failing.send("fail")
        expect(Cause.isDone(yield* Effect.flip(failing.receive))).toBe(true) // the server closed it
        expect(warnings.length).toBe(1)
        expect(warnings[0]).toContain("connection handler failed")
        const clients = yield* Effect.forEach([1, 2, 3], () => UnixSocket.connect({ address: server.address.text }))
        for (const client of clients) {
          yield* client.send("hello")
          expect(Message.text(yield* client.receive)).toBe("hello") // its handler now waits in handleMessages
        }
        yield* server.close
        for (const client of clients) expect(Cause.isDone(yield* Effect.flip(client.receive))).toBe(true)
        expect(warnings.length).toBe(1)
        yield* Fiber.interrupt(serving)
      }).pipe(Effect.provideService(Logger.CurrentLoggers, new Set([capture]))))
      expect(warnings.length).toBe(1)
    })))
})

describe("backpressure", () => {
  it("a consumer that does not pull stops the reads: the sender suspends, and nothing is lost when it resumes", () =>
    runCountingFds(Effect.gen(function*() {
      const [sender, receiver] = yield* UnixSocket.pair("stream")
      const chunk = new Uint8Array(64 * 1024)
      const total = 256 // 16 MiB: far more than the kernel buffers between the two ends
      let sent = 0
      const sending = yield* Effect.forkScoped(
        Effect.forEach(Array.from({ length: total }, (_, i) => i), (i) =>
          Effect.andThen(sender.send(chunk.fill(i % 251)), Effect.sync(() => sent++)), { discard: true })
      )
      // Let the sender run until the kernel buffers are full and it parks.
      let previous = -1
      while (sent !== previous) {
        previous = sent
        yield* Effect.sleep(100)
      }
      expect(sent).toBeGreaterThan(0)
      expect(sent).toBeLessThan(total)
      expect(sending.pollUnsafe()).toBeUndefined() // still suspended in send
      let index = 0
      yield* receiver.messages.pipe(
        Stream.take(total),
        Stream.runForEach((message) =>
          Effect.sync(() => {
            expect(message.data.length).toBe(chunk.length)
            expect(message.data[0]).toBe(index % 251)
            expect(message.data[chunk.length - 1]).toBe(index % 251)
            index++
          })
        )
      )
      yield* Fiber.join(sending)
      expect(index).toBe(total)
      expect(sent).toBe(total)
    })))
})
