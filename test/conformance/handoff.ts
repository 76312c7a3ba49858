import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Fd, Message, UnixServer, UnixSocket } from "../../src/index.ts"
import { countFdsTo, firstMessage, receiveSocketFromPeer, runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("descriptor hand-off across processes", () => {
  it("process B reads a file through the descriptor process A opened and sent", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const file = `${dir}/secret.txt`
      fs.writeFileSync(file, "opened by the other process")
      const server = yield* UnixServer.listen({ address: `${dir}/s.sock` })
      const child = spawnPeer("send-fds", [server.address.text, "file", file])
      const { connection, message } = yield* firstMessage(server)
      expect(Message.text(message)).toBe("file")
      expect(message.fds).toHaveLength(1)
      fs.rmSync(file) // the descriptor still reaches the content: it is the open file, not the path
      expect(text(message.fds[0]!.readAll())).toBe("opened by the other process")
      message.fds[0]!.close()
      yield* connection.send("done")
      expect(yield* Effect.promise(() => succeeded(child))).toContain("reply: done")
    })))

  it("this process opens a file and hands it over; the other process reads it through the descriptor", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      fs.writeFileSync(`${dir}/data.txt`, "handed over by superd")
      const server = yield* UnixServer.listen({ address: `${dir}/s.sock` })
      const child = spawnPeer("recv-file", [server.address.text])
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      const fd = yield* Fd.open(`${dir}/data.txt`)
      yield* connection!.send({ data: "here", fds: [fd] })
      fd.close() // sending never transfers ownership: ours to close right away
      const [reply] = yield* connection!.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(reply!)).toBe("done")
      expect(yield* Effect.promise(() => succeeded(child))).toContain(`content:"handed over by superd"`)
    })))

  it("a pipe's read end passes; what the sender wrote into it is read here", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/s.sock` })
      const child = spawnPeer("send-fds", [server.address.text, "pipe"])
      const { connection, message } = yield* firstMessage(server)
      using fd = message.fds[0]!
      expect(fd.type()).toBe("fifo")
      expect(text(fd.readAll())).toBe("through a pipe")
      yield* connection.send("done")
      yield* Effect.promise(() => succeeded(child))
    })))

  it("a socket end passes and becomes a connection of its own", () =>
    runCountingFds(Effect.gen(function*() {
      const { fd, peer } = yield* receiveSocketFromPeer()
      expect(fd.type()).toBe("socket")
      const adopted = yield* UnixSocket.fromFd(fd, { framing: "raw" })
      expect(fd.isOpen).toBe(false) // taken by the connection
      const [hello] = yield* adopted.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(hello!)).toBe("through a socket")
      yield* adopted.send("pong")
      expect(yield* Effect.promise(() => succeeded(peer))).toContain("socket reply: pong")
    })))

  it("253 descriptors (SCM_MAX_FD) arrive in one message", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/s.sock` })
      const child = spawnPeer("send-fds", [server.address.text, "many", "253"])
      const { connection, message } = yield* firstMessage(server)
      expect(message.fds).toHaveLength(253)
      expect(new Set(message.fds.map((fd) => fd.value)).size).toBe(253)
      expect(message.fds.every((fd) => fd.type() === "character")).toBe(true)
      expect(connection.unclaimedFds).toBe(253)
      for (const fd of message.fds) fd.close()
      expect(connection.unclaimedFds).toBe(0)
      yield* connection.send("done")
      yield* Effect.promise(() => succeeded(child))
    })))

  it("more than 253 descriptors in one message is refused before sending", () =>
    runCountingFds(Effect.gen(function*() {
      const [a] = yield* UnixSocket.pair("stream")
      const fd = yield* Fd.open("/dev/null")
      const error = yield* Effect.flip(a.send({ data: "x", fds: Array(254).fill(fd) }))
      fd.close()
      expect(error._tag).toBe("FdLimit")
    })))

  it("a number that cannot be a descriptor is refused before sending (SystemError); the connection goes on", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      for (const bad of [-1, 1.5, 2 ** 31]) {
        const error = yield* Effect.flip(a.send({ data: "x", fds: [bad] }))
        expect(error).toMatchObject({ _tag: "SystemError", message: `not a descriptor number: ${bad}` })
      }
      yield* a.send("still open")
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(message!)).toBe("still open")
      expect(message!.fds).toHaveLength(0)
    })))

  it("unclaimed received descriptors are closed when their connection closes", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      const fd = yield* Fd.open("/dev/null")
      yield* a.send({ data: "x", fds: [fd, fd, fd] })
      fd.close()
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(b.unclaimedFds).toBe(3)
      yield* b.close
      expect(message!.fds.every((received) => !received.isOpen)).toBe(true)
    })))

  it("Fd.closeAll closes a message's received descriptors in one call, leaving those already closed or taken", () =>
    runCountingFds(Effect.gen(function*() {
      const file = `${tempDir()}/handed.txt`
      fs.writeFileSync(file, "")
      const [a, b] = yield* UnixSocket.pair("stream")
      const fd = yield* Fd.open(file)
      yield* a.send({ data: "x", fds: Array.from({ length: 16 }, () => fd) })
      fd.close()
      const message = yield* b.receive
      expect(countFdsTo(file)).toBe(16)
      const taken = yield* Fd.adopt(message.fds[3]!.take())
      message.fds[5]!.close()
      Fd.closeAll(message.fds)
      expect(countFdsTo(file)).toBe(1) // the taken one, still open and the caller's
      expect(message.fds.some((received) => received.isOpen)).toBe(false)
      expect(b.unclaimedFds).toBe(0)
      expect(taken.type()).toBe("file")
      Fd.closeAll(message.fds) // again: nothing left to close
      expect(countFdsTo(file)).toBe(1)
      taken.close()
      expect(countFdsTo(file)).toBe(0)
    })))

  it("Fd.closeAll never closes a number that lies between numbers of its own", () =>
    runCountingFds(Effect.gen(function*() {
      const file = `${tempDir()}/own.txt`
      fs.writeFileSync(file, "")
      const [first, second, middle, fourth, fifth] = yield* Effect.forEach([1, 2, 3, 4, 5], () => Fd.open(file))
      middle!.close()
      const other = yield* Fd.open(file) // the kernel gives it the lowest free number: the middle one's
      Fd.closeAll([fifth!, first!, fourth!, second!])
      expect(countFdsTo(file)).toBe(1)
      expect(other.type()).toBe("file")
      other.close()
    })))
})
