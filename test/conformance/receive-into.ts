import { Cause, Effect, Fiber, Stream } from "effect"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Fd, Message, UnixServer, UnixSocket } from "../../src/index.ts"
import { runCountingFds, tempDir } from "../support/helpers.ts"

/** Deterministic bytes for message `i`. */
const payload = (i: number, size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let j = 0; j < size; j++) bytes[j] = (i * 31 + j * 7) & 255
  return bytes
}

/** The first index where `bytes` differs from message `i`'s payload, or -1. */
const mismatch = (i: number, size: number, bytes: Uint8Array): number => {
  if (bytes.length !== size) return Math.min(bytes.length, size)
  const expected = payload(i, size)
  return expected.findIndex((byte, j) => bytes[j] !== byte)
}

const text = (buffer: Uint8Array, length: number): string => new TextDecoder().decode(buffer.subarray(0, length))

describe("receiveInto: messages read into the caller's buffer", () => {
  it("frames small and large, spanning reads and larger than the read buffer, arrive byte for byte with their descriptors, then Done", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      const sizes = [0, 1, 1000, 65_536, 300_000, 70_000, 70_000, 70_000, 70_000, 3, 1 << 20, 64]
      const fd = yield* Fd.open("/dev/null")
      const sender = yield* Effect.forkScoped(Effect.gen(function*() {
        for (let i = 0; i < sizes.length; i++) yield* a.send({ data: payload(i, sizes[i]!), fds: i % 3 === 0 ? [fd, fd] : [] })
        yield* a.end
      }))
      const buffer = new Uint8Array(2 << 20)
      for (let i = 0; i < sizes.length; i++) {
        const got = yield* b.receiveInto(buffer)
        expect([i, got.length]).toEqual([i, sizes[i]])
        expect([i, mismatch(i, sizes[i]!, buffer.subarray(0, got.length))]).toEqual([i, -1])
        expect([i, got.fds.length]).toEqual([i, i % 3 === 0 ? 2 : 0])
        for (const received of got.fds) {
          expect(received.type()).toBe("character")
          received.close()
        }
      }
      const end = yield* Effect.flip(b.receiveInto(buffer))
      expect(Cause.isDone(end)).toBe(true)
      yield* Fiber.join(sender)
      fd.close()
      expect(b.unclaimedFds).toBe(0)
    })))

  it("a message longer than the buffer fails with MessageTooLarge and stays queued, for a larger buffer or for receive", () =>
    runCountingFds(Effect.gen(function*() {
      for (const type of ["stream", "seqpacket"] as const) {
        const [a, b] = yield* UnixSocket.pair(type)
        yield* a.send("x".repeat(100))
        yield* a.send("0123456789")
        yield* a.send("y".repeat(100))
        const small = new Uint8Array(50)
        const error = yield* Effect.flip(b.receiveInto(small))
        expect(error._tag).toBe("MessageTooLarge")
        expect(error._tag === "MessageTooLarge" && [error.size, error.limit]).toEqual([100, 50])
        const large = new Uint8Array(200)
        const first = yield* b.receiveInto(large)
        expect(text(large, first.length)).toBe("x".repeat(100))
        const second = yield* b.receiveInto(small)
        expect(text(small, second.length)).toBe("0123456789")
        expect(Message.text(yield* b.receive)).toBe("y".repeat(100))
      }
    })))

  it("messages read for receiveInto and then taken by receive are their own: later reads change nothing in them", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      // Sent before anything reads: one read takes them all, lent to receiveInto.
      for (let i = 0; i < 20; i++) yield* a.send(`first ${i} ${"-".repeat(2000)}`)
      const buffer = new Uint8Array(4096)
      const got = yield* b.receiveInto(buffer)
      expect(text(buffer, got.length)).toBe(`first 0 ${"-".repeat(2000)}`)
      const kept = [yield* b.receive, yield* b.receive]
      for (let i = 3; i < 20; i++) {
        const next = yield* b.receiveInto(buffer)
        expect(text(buffer, next.length)).toBe(`first ${i} ${"-".repeat(2000)}`)
      }
      // The next read goes into the same buffer the kept ones were read into.
      for (let i = 0; i < 20; i++) yield* a.send(`later ${i} ${"+".repeat(2000)}`)
      for (let i = 0; i < 20; i++) yield* b.receiveInto(buffer)
      expect(kept.map(Message.text)).toEqual([`first 1 ${"-".repeat(2000)}`, `first 2 ${"-".repeat(2000)}`])
    })))

  it("two connections reading into the one shared buffer in turn keep each other's messages", () =>
    runCountingFds(Effect.gen(function*() {
      const [a1, b1] = yield* UnixSocket.pair("stream")
      const [a2, b2] = yield* UnixSocket.pair("seqpacket")
      // The second connection's packets are long enough to cover the first's frames in the buffer.
      for (let i = 0; i < 5; i++) yield* a1.send(`one ${i}`)
      for (let i = 0; i < 5; i++) yield* a2.send(`two ${i}`.padEnd(200, "."))
      const buffer = new Uint8Array(300)
      const seen: Array<string> = []
      const take = (connection: typeof b1) => Effect.map(connection.receiveInto(buffer), (got) => seen.push(text(buffer, got.length)))
      yield* take(b1) // one read, five messages, four of them waiting
      yield* take(b2) // reads into the same buffer
      yield* take(b2)
      for (let i = 0; i < 4; i++) yield* take(b1)
      for (let i = 0; i < 3; i++) yield* take(b2)
      const two = (i: number) => `two ${i}`.padEnd(200, ".")
      expect(seen).toEqual(["one 0", two(0), two(1), "one 1", "one 2", "one 3", "one 4", two(2), two(3), two(4)])
    })))

  it("with passCredentials each message received into the buffer carries the sender's credentials", () =>
    runCountingFds(Effect.gen(function*() {
      const self = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() }
      for (const type of ["stream", "seqpacket"] as const) {
        const [a, b] = yield* UnixSocket.pair(type, { passCredentials: true })
        yield* a.send("first")
        yield* a.send("second")
        const buffer = new Uint8Array(16)
        const first = yield* b.receiveInto(buffer)
        expect([text(buffer, first.length), first.credentials]).toEqual(["first", self])
        const second = yield* b.receiveInto(buffer)
        expect([text(buffer, second.length), second.credentials]).toEqual(["second", self])
      }
    })))

  it("on a raw STREAM it reads like read(2): what does not fit stays for the next call, the descriptors come with the first part", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream", { framing: "raw" })
      const fd = yield* Fd.open("/dev/null")
      yield* a.send({ data: payload(7, 100), fds: [fd] })
      fd.close()
      const buffer = new Uint8Array(40)
      const parts: Array<number> = []
      const bytes: Array<number> = []
      let fds = 0
      while (bytes.length < 100) {
        const got = yield* b.receiveInto(buffer)
        parts.push(got.length)
        bytes.push(...buffer.subarray(0, got.length))
        for (const received of got.fds) {
          fds++
          received.close()
        }
        if (parts.length === 1) expect(got.fds).toHaveLength(1)
      }
      expect(parts).toEqual([40, 40, 20])
      expect(fds).toBe(1)
      expect(mismatch(7, 100, Uint8Array.from(bytes))).toBe(-1)
    })))
  it("a frame completed by a read that also brings the next frame's first bytes is handed out intact", () =>
    runCountingFds(Effect.gen(function*() {
      // A raw client writes the bytes exactly as split here; the framed end reads them.
      const server = yield* UnixServer.listen({ address: `${tempDir()}/into.sock` })
      const client = yield* UnixSocket.connect({ address: server.address.text, framing: "raw" })
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      const frame = (i: number, size: number) => {
        const bytes = new Uint8Array(8 + size)
        new DataView(bytes.buffer).setUint32(0, size)
        bytes.set(payload(i, size), 8)
        return bytes
      }
      const [first, second, third] = [frame(0, 3000), frame(1, 500), frame(2, 5000)]
      const buffer = new Uint8Array(8000)
      yield* client.send(first.subarray(0, 1008))
      const reader = yield* Effect.forkScoped(connection!.receiveInto(buffer))
      yield* Effect.sleep(50) // the reader has read the first part and waits for the rest
      yield* client.send(Uint8Array.from([...first.subarray(1008), ...second, ...third.subarray(0, 2508)]))
      const got = yield* Fiber.join(reader)
      expect(mismatch(0, 3000, buffer.subarray(0, got.length))).toBe(-1)
      const next = yield* connection!.receiveInto(buffer)
      expect(mismatch(1, 500, buffer.subarray(0, next.length))).toBe(-1)
      yield* client.send(third.subarray(2508))
      const last = yield* connection!.receiveInto(buffer)
      expect(mismatch(2, 5000, buffer.subarray(0, last.length))).toBe(-1)
    })))
})
