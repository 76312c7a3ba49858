import { Effect, Fiber, Stream } from "effect"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Fd, Message, UnixServer, UnixSocket } from "../../src/index.ts"
import { runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

const readAll = (fd: Fd): string => new TextDecoder().decode(fd.readAll())

/** Writes raw bytes (and descriptors) as they are, bypassing the framing encoder. */
const header = (length: number, fdCount: number): Uint8Array => {
  const bytes = new Uint8Array(8)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, length)
  view.setUint16(4, fdCount)
  return bytes
}

describe("length-prefixed framing with descriptors", () => {
  it("10,000 frames with 0-3 descriptors each: every frame gets exactly its own, in order", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/frames.sock` })
      const child = spawnPeer("frames", [server.address.text, "10000"])
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      let index = 0
      let fdsSeen = 0
      yield* connection!.handleMessages((message) =>
        Effect.sync(() => {
          expect(Message.text(message)).toBe(`frame ${index}`)
          expect(message.fds).toHaveLength(index % 4)
          message.fds.forEach((fd, j) => expect(readAll(fd)).toBe(`frame ${index} fd ${j}`))
          fdsSeen += message.fds.length
          index++
        })
      )
      expect(index).toBe(10_000)
      expect(fdsSeen).toBe(15_000)
      expect(connection!.unclaimedFds).toBe(0)
      yield* connection!.close
      yield* Effect.promise(() => succeeded(child))
    })))

  /** A framed server and a raw client writing bytes exactly as given. */
  const rawAgainstFramed = (limits: { maxMessageBytes?: number } = {}) =>
    Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/f.sock`, limits })
      const client = yield* UnixSocket.connect({ address: server.address.text, framing: "raw" })
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      return { client, connection: connection! }
    })

  it("frames survive arbitrary splitting: a header cut in two, two frames glued in one write", () =>
    runCountingFds(Effect.gen(function*() {
      const { client, connection } = yield* rawAgainstFramed()
      const fd = yield* Fd.open("/dev/null")
      const first = header(5, 1)
      yield* client.send({ data: first.subarray(0, 3), fds: [fd] })
      fd.close()
      const rest = new Uint8Array([...first.subarray(3), ...new TextEncoder().encode("hello"), ...header(3, 0), 97, 98, 99])
      yield* client.send(rest)
      const messages = yield* connection.messages.pipe(Stream.take(2), Stream.runCollect)
      expect(messages.map(Message.text)).toEqual(["hello", "abc"])
      expect(messages.map((m) => m.fds.length)).toEqual([1, 0])
      expect(messages[0]!.fds[0]!.type()).toBe("character")
    })))

  it("frames small and large (header copied, or sent as its own iovec), cut by partial writes, arrive byte for byte with their descriptors", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      const sizes = [0, 1, 4095, 4096, 4097, 65_536, 65_543, 1 << 20, 3, 1 << 20]
      const payload = (i: number, size: number) => {
        const bytes = new Uint8Array(size)
        for (let j = 0; j < size; j++) bytes[j] = (i * 31 + j * 7) & 255
        return bytes
      }
      /** The first index where `data` differs from what message `i` carried, or -1. */
      const mismatch = (i: number, data: Uint8Array) => {
        const expected = payload(i, sizes[i]!)
        if (data.length !== expected.length) return Math.min(data.length, expected.length)
        return expected.findIndex((byte, j) => data[j] !== byte)
      }
      const sender = yield* Effect.forkScoped(Effect.forEach(sizes, (size, i) =>
        Effect.gen(function*() {
          const fds = i % 2 === 0 ? [yield* Fd.open("/dev/null")] : []
          yield* a.send({ data: payload(i, size), fds })
          fds.forEach((fd) => fd.close())
        })))
      const received = yield* b.messages.pipe(
        Stream.tap(() => Effect.sleep(5)), // a slow reader: the large sends go out in parts
        Stream.take(sizes.length),
        Stream.runCollect
      )
      yield* Fiber.join(sender)
      received.forEach((message, i) => {
        expect([message.data.length, mismatch(i, message.data)]).toEqual([sizes[i], -1])
        expect(message.fds.map((fd) => fd.type())).toEqual(i % 2 === 0 ? ["character"] : [])
        message.fds.forEach((fd) => fd.close())
      })
    })))

  it("a frame that claims descriptors that never came fails with ProtocolError", () =>
    runCountingFds(Effect.gen(function*() {
      const { client, connection } = yield* rawAgainstFramed()
      yield* client.send(new Uint8Array([...header(1, 2), 120]))
      const error = yield* Effect.flip(Stream.runCollect(connection.messages))
      expect(error._tag).toBe("ProtocolError")
      expect(error.message).toContain("claims 2 descriptors")
    })))

  it("a header announcing more than limits.maxMessageBytes fails with MessageTooLarge before the payload", () =>
    runCountingFds(Effect.gen(function*() {
      const { client, connection } = yield* rawAgainstFramed({ maxMessageBytes: 1024 })
      yield* client.send(header(0xfffffff0, 0))
      const error = yield* Effect.flip(Stream.runCollect(connection.messages))
      expect(error._tag).toBe("MessageTooLarge")
      expect(error).toMatchObject({ size: 0xfffffff0, limit: 1024 })
    })))

  it("descriptors that came with no frame are closed at end of stream and reported", () =>
    runCountingFds(Effect.gen(function*() {
      const { client, connection } = yield* rawAgainstFramed()
      const fd = yield* Fd.open("/dev/null")
      yield* client.send({ data: new Uint8Array([...header(0, 0)]), fds: [fd, fd] })
      fd.close()
      yield* client.close
      const error = yield* Effect.flip(Stream.runCollect(connection.messages))
      expect(error._tag).toBe("ProtocolError")
      expect(error.message).toContain("2 descriptors that belong to no frame")
    })))

  it("maxFdsPerMessage: 0 closes every received descriptor at once and still delivers the bytes", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream", { limits: { maxFdsPerMessage: 0 } })
      const fd = yield* Fd.open("/dev/null")
      for (let i = 0; i < 100; i++) yield* a.send({ data: `m${i}`, fds: [fd, fd] })
      fd.close()
      yield* a.end
      const messages = yield* Stream.runCollect(b.messages)
      expect(messages).toHaveLength(100)
      expect(messages.every((m) => m.fds.length === 0)).toBe(true)
      expect(b.unclaimedFds).toBe(0)
    })))

  it("a consumer that keeps received descriptors past limits.maxUnclaimedFds ends with FdLimit", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream", { limits: { maxUnclaimedFds: 50 } })
      const fd = yield* Fd.open("/dev/null")
      const sender = yield* Effect.forkScoped(Effect.forEach(Array.from({ length: 100 }), () => a.send({ data: "x", fds: [fd] }), { discard: true }))
      const error = yield* Effect.flip(Stream.runDrain(b.messages))
      expect(error._tag).toBe("FdLimit")
      expect(b.unclaimedFds).toBeLessThanOrEqual(50)
      yield* b.close
      yield* Effect.exit(Fiber.join(sender))
      fd.close()
    })))
})
