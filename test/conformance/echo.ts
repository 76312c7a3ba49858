import { Cause, Effect, Fiber, Stream } from "effect"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import type { Connection, Framing, SocketType } from "../../src/Connection.ts"
import { Fd, Message, UnixServer, UnixSocket } from "../../src/index.ts"
import { runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

const kinds: ReadonlyArray<readonly [SocketType, Framing]> = [
  ["stream", "length-prefixed"],
  ["stream", "raw"],
  ["seqpacket", "raw"]
]

/** Serves an echo: every message (bytes and descriptors) goes back to its sender. */
const echoServer = (address: string, type: SocketType, framing: Framing) =>
  Effect.gen(function*() {
    const server = yield* UnixServer.listen({ address, type, framing })
    yield* Effect.forkScoped(
      server.serve((connection) => connection.handleMessages((message) => connection.send({ data: message.data, fds: message.fds })))
    )
    return server
  })

/** Sends `count` messages and reads until every byte came back; returns the text received. */
const roundTrip = (connection: Connection, count: number) =>
  Effect.gen(function*() {
    let expected = ""
    for (let i = 0; i < count; i++) expected += `message ${i};`
    // Send while reading: the echoes fill our receive buffer while we are still sending.
    yield* Effect.forkScoped(Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => connection.send(`message ${i};`), { discard: true }))
    let received = ""
    let messages = 0
    yield* connection.messages.pipe(
      Stream.takeUntil((message) => {
        received += Message.text(message)
        messages++
        return received.length >= expected.length
      }),
      Stream.runDrain
    )
    return { expected, received, messages }
  })

describe("echo", () => {
  for (const [type, framing] of kinds) {
    it(`${type} (${framing}) in one process: every byte comes back, with message boundaries where the type keeps them`, () =>
      runCountingFds(Effect.gen(function*() {
        const address = `${tempDir()}/echo.sock`
        yield* echoServer(address, type, framing)
        const client = yield* UnixSocket.connect({ address, type, framing })
        const { expected, messages, received } = yield* roundTrip(client, 200)
        expect(received).toBe(expected)
        if (framing === "length-prefixed" || type === "seqpacket") expect(messages).toBe(200)
      })))

    it(`${type} (${framing}) across processes: a client process against this process's server`, () =>
      runCountingFds(Effect.gen(function*() {
        const address = `${tempDir()}/echo.sock`
        yield* echoServer(address, type, framing)
        const child = spawnPeer("echo-client", [address, type, framing, "500"])
        const stdout = yield* Effect.promise(() => succeeded(child))
        expect(stdout).toContain("echoed 500")
        expect(stdout).toContain(`peer-pid=${process.pid}`)
      })))

    it(`${type} (${framing}) across processes: this process against a server process`, async () => {
      const address = `${tempDir()}/echo.sock`
      const child = spawnPeer("echo-server", [address, type, framing])
      try {
        await child.waitFor("listening")
        await runCountingFds(Effect.gen(function*() {
          const client = yield* UnixSocket.connect({ address, type, framing })
          expect(client.peer.pid).toBe(child.pid)
          expect(client.peer.uid).toBe(process.getuid!())
          const { expected, received } = yield* roundTrip(client, 500)
          expect(received).toBe(expected)
        }))
      } finally {
        child.kill("SIGTERM")
        await child.exited
      }
    })
  }

  it("send is bound: taken off its connection and passed as a function, it still sends there", () =>
    runCountingFds(Effect.gen(function*() {
      const address = `${tempDir()}/echo.sock`
      yield* echoServer(address, "stream", "length-prefixed")
      const client = yield* UnixSocket.connect({ address })
      const send = client.send
      yield* Effect.forEach(["one", "two"], send, { discard: true })
      const replies = yield* client.messages.pipe(Stream.take(2), Stream.runCollect)
      expect(replies.map((message) => Message.text(message))).toEqual(["one", "two"])
    })))

  it("a connected pair echoes in one process and reports our own credentials as the peer's", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("seqpacket")
      expect(a.peer).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() })
      yield* a.send("ping")
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(message!)).toBe("ping")
    })))

  it("messages ends cleanly when the peer closes; send after close fails with Closed", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      yield* a.send("last words")
      yield* a.close
      const all = yield* Stream.runCollect(b.messages)
      expect(all.map(Message.text)).toEqual(["last words"])
      const failure = yield* Effect.flip(a.send("too late"))
      expect(failure._tag).toBe("Closed")
    })))

  it("a consumer that stops after one message leaves the messages already read for the next one, descriptors included", () =>
    runCountingFds(Effect.gen(function*() {
      for (const [type, framing] of [["stream", "length-prefixed"], ["stream", "raw"], ["seqpacket", "raw"]] as const) {
        const [a, b] = yield* UnixSocket.pair(type, { framing })
        const [readEnd, writeEnd] = yield* Fd.pipe()
        // All three are in b's socket before the first pull, so one read takes them together.
        for (const text of ["hello", "second", "third"]) yield* a.send({ data: text, fds: framing === "raw" && type === "stream" ? [] : [readEnd] })
        readEnd.close()
        writeEnd.close()
        if (framing === "raw" && type === "stream") {
          yield* a.close // raw STREAM has no boundaries: the three arrive as one chunk
          const [chunk] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
          expect(Message.text(chunk!)).toBe("hellosecondthird")
          expect(yield* Stream.runCollect(b.messages)).toEqual([])
          continue
        }
        const [hello] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(Message.text(hello!)).toBe("hello")
        const rest = yield* b.messages.pipe(Stream.take(2), Stream.runCollect)
        expect([type, rest.map(Message.text), rest.map((m) => m.fds.length)]).toEqual([type, ["second", "third"], [1, 1]])
        expect(b.unclaimedFds).toBe(3)
        yield* a.close
        yield* b.close
        expect(b.unclaimedFds).toBe(0)
      }
    })))

  it("receive takes one message at a time, waits when none has arrived, shares its queue with messages, and fails with Cause.Done at the end of stream", () =>
    runCountingFds(Effect.gen(function*() {
      for (const type of ["stream", "seqpacket"] as const) {
        const [a, b] = yield* UnixSocket.pair(type)
        const waiting = yield* Effect.forkChild(b.receive) // nothing has arrived yet
        yield* a.send("first")
        expect(Message.text(yield* Fiber.join(waiting))).toBe("first")
        const [readEnd, writeEnd] = yield* Fd.pipe()
        for (const text of ["second", "third", "fourth"]) yield* a.send({ data: text, fds: [readEnd] })
        readEnd.close()
        writeEnd.close()
        const second = yield* b.receive
        const [third] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
        const fourth = yield* b.receive
        expect([second, third!, fourth].map((m) => [Message.text(m), m.fds.length])).toEqual([["second", 1], ["third", 1], ["fourth", 1]])
        fourth.fds[0]!.close()
        expect(b.unclaimedFds).toBe(2)
        yield* a.close
        expect(Cause.isDone(yield* Effect.flip(b.receive))).toBe(true)
        yield* b.close
        expect(b.unclaimedFds).toBe(0)
        const [c, d] = yield* UnixSocket.pair(type)
        yield* d.close
        expect((yield* Effect.flip(d.receive))._tag).toBe("Closed")
        yield* c.close
      }
    })))
})
