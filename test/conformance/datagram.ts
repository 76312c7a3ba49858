import { Effect, Fiber, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Fd, Message, UnixDatagram } from "../../src/index.ts"
import { runCountingFds, tempDir } from "../support/helpers.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("datagrams", () => {
  it("endpoints bound to a path, an @abstract name or by autobind exchange bytes and descriptors, and name the sender", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const path = yield* UnixDatagram.bind({ address: `${dir}/d.sock` })
      const abstract = yield* UnixDatagram.bind({ address: `@usfp-dgram-${process.pid}` })
      const auto = yield* UnixDatagram.bind()
      expect(path.address.text).toBe(`${dir}/d.sock`)
      expect(fs.lstatSync(`${dir}/d.sock`).isSocket()).toBe(true)
      expect(abstract.address.kind).toBe("abstract")
      expect(auto.address.kind).toBe("abstract") // the kernel picked a name
      fs.writeFileSync(`${dir}/payload.txt`, "through a datagram")
      const file = yield* Fd.open(`${dir}/payload.txt`)
      yield* auto.sendTo(path.address.text, { data: "to the path", fds: [file] })
      file.close()
      const first = yield* path.receive
      expect(Message.text(first)).toBe("to the path")
      expect(first.from.text).toBe(auto.address.text)
      using fd = first.fds[0]!
      expect(text(fd.readAll())).toBe("through a datagram")
      yield* path.sendTo(first.from.text, "reply to whoever sent it")
      yield* path.sendTo(abstract.address.text, "to the abstract name")
      expect(Message.text(yield* auto.receive)).toBe("reply to whoever sent it")
      const second = yield* abstract.receive
      expect([Message.text(second), second.from.text]).toEqual(["to the abstract name", `${dir}/d.sock`])
      yield* path.close
      expect(fs.existsSync(`${dir}/d.sock`)).toBe(false) // closing removes the file
    })))

  it("message boundaries hold, empty datagrams included, and messages streams them in order", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = [yield* UnixDatagram.bind(), yield* UnixDatagram.bind()]
      const sizes = [0, 1, 1000, 0, 65536, 3]
      // Never a zero byte: a received copy must be written through, not merely allocated.
      const fill = (size: number) => (size % 255) + 1
      for (const size of sizes) yield* a.sendTo(b.address.text, new Uint8Array(size).fill(fill(size)))
      const received = yield* b.messages.pipe(Stream.take(sizes.length), Stream.runCollect)
      expect(received.map((d) => d.data.length)).toEqual(sizes)
      expect(received.every((d) => d.data.every((byte) => byte === fill(d.data.length)))).toBe(true)
    })))

  it("a consumer that stops after one datagram leaves those already read for the next one", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = [yield* UnixDatagram.bind(), yield* UnixDatagram.bind()]
      for (const text of ["hello", "second", "third"]) yield* a.sendTo(b.address.text, text)
      const [hello] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      const second = yield* b.receive
      const [third] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      expect([hello, second, third].map((d) => new TextDecoder().decode(d!.data))).toEqual(["hello", "second", "third"])
    })))

  it("connect fixes the destination for send, and only the connected peer's datagrams are accepted", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b, stranger] = [yield* UnixDatagram.bind(), yield* UnixDatagram.bind(), yield* UnixDatagram.bind()]
      const unconnected = yield* Effect.flip(a.send("nowhere"))
      expect(unconnected._tag).toBe("AddressNotFound")
      yield* a.connect(b.address.text)
      expect(a.remoteAddress?.text).toBe(b.address.text)
      yield* a.send("over the connection")
      const datagram = yield* b.receive
      expect([Message.text(datagram), datagram.from.text]).toEqual(["over the connection", a.address.text])
      const refused = yield* Effect.flip(stranger.sendTo(a.address.text, "let me in"))
      expect(refused._tag).toBe("PermissionDenied") // a connected socket takes datagrams from its peer only
    })))

  it("a datagram larger than the receive buffer fails with MessageTooLarge naming both sizes; the next one arrives", () =>
    runCountingFds(Effect.gen(function*() {
      const sender = yield* UnixDatagram.bind()
      const receiver = yield* UnixDatagram.bind({ limits: { maxMessageBytes: 100 } })
      const fd = yield* Fd.open("/dev/null")
      yield* sender.sendTo(receiver.address.text, { data: new Uint8Array(150), fds: [fd, fd] })
      fd.close()
      yield* sender.sendTo(receiver.address.text, "small enough")
      const error = yield* Effect.flip(receiver.receive)
      expect(error).toMatchObject({ _tag: "MessageTooLarge", size: 150, limit: 100 })
      expect(error.message).toContain(sender.address.text)
      expect(receiver.unclaimedFds).toBe(0) // the oversize datagram's descriptors were closed
      expect(Message.text(yield* receiver.receive)).toBe("small enough")
    })))

  it("sending where nobody is bound fails: AddressNotFound for no file, ConnectionRefused for a dead socket", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const sender = yield* UnixDatagram.bind()
      const missing = yield* Effect.flip(sender.sendTo(`${dir}/nobody.sock`, "hello?"))
      expect(missing).toMatchObject({ _tag: "AddressNotFound", syscall: "sendmsg", address: `${dir}/nobody.sock` })
      execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])", `${dir}/dead.sock`])
      const dead = yield* Effect.flip(sender.sendTo(`${dir}/dead.sock`, "hello?"))
      expect(dead._tag).toBe("ConnectionRefused")
      yield* sender.sendTo(sender.address.text, "still works") // one failed destination ends nothing
      expect(Message.text(yield* sender.receive)).toBe("still works")
    })))

  it("a full receiver queue makes sendTo and send wait, and nothing is lost once the receiver reads", () =>
    runCountingFds(Effect.gen(function*() {
      for (const connected of [false, true]) {
        const [sender, receiver] = [yield* UnixDatagram.bind(), yield* UnixDatagram.bind()]
        if (connected) yield* sender.connect(receiver.address.text)
        const total = 200 // far more than a receive queue holds
        let sent = 0
        const sending = yield* Effect.forkScoped(
          Effect.forEach(Array.from({ length: total }, (_, i) => i), (i) =>
            Effect.andThen(
              connected ? sender.send(`datagram ${i}`) : sender.sendTo(receiver.address.text, `datagram ${i}`),
              Effect.sync(() => sent++)
            ), { discard: true })
        )
        let previous = -1
        while (sent !== previous) {
          previous = sent
          yield* Effect.sleep(100)
        }
        expect(sent).toBeGreaterThan(0)
        expect(sent).toBeLessThan(total) // the sender waits
        const received = yield* receiver.messages.pipe(Stream.take(total), Stream.runCollect)
        yield* Fiber.join(sending)
        expect(received.map(Message.text)).toEqual(Array.from({ length: total }, (_, i) => `datagram ${i}`))
      }
    })))

  it("an endpoint with maxFdsPerMessage: 0 closes received descriptors at once and still delivers the bytes", () =>
    runCountingFds(Effect.gen(function*() {
      const sender = yield* UnixDatagram.bind()
      const receiver = yield* UnixDatagram.bind({ limits: { maxFdsPerMessage: 0 } })
      const fd = yield* Fd.open("/dev/null")
      yield* sender.sendTo(receiver.address.text, { data: "keep the bytes", fds: [fd, fd, fd] })
      fd.close()
      const datagram = yield* receiver.receive
      expect([Message.text(datagram), datagram.fds.length, receiver.unclaimedFds]).toEqual(["keep the bytes", 0, 0])
    })))

  it("a stale socket file is replaced, a live endpoint's path is AddressInUse, and a non-socket file is left alone", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])", `${dir}/stale.sock`])
      const endpoint = yield* UnixDatagram.bind({ address: `${dir}/stale.sock` })
      const taken = yield* Effect.flip(UnixDatagram.bind({ address: `${dir}/stale.sock` }))
      expect(taken._tag).toBe("AddressInUse")
      fs.writeFileSync(`${dir}/file`, "precious")
      const file = yield* Effect.flip(UnixDatagram.bind({ address: `${dir}/file` }))
      expect(file._tag).toBe("AddressInUse")
      expect(fs.readFileSync(`${dir}/file`, "utf8")).toBe("precious")
      yield* endpoint.sendTo(endpoint.address.text, "mine")
      expect(Message.text(yield* endpoint.receive)).toBe("mine")
    })))

  it("a datagram from a sender that never bound arrives with an unnamed from, and a reply has nowhere to go", () =>
    runCountingFds(Effect.gen(function*() {
      const endpoint = yield* UnixDatagram.bind()
      // A Python socket that never binds sends to our abstract name ("@x" is NUL + "x" to the kernel).
      const sendUnbound = "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'anonymous', b'\\0' + sys.argv[1][1:].encode())"
      execFileSync("python3", ["-c", sendUnbound, endpoint.address.text])
      const datagram = yield* endpoint.receive
      expect([Message.text(datagram), datagram.from.kind, datagram.from.text]).toEqual(["anonymous", "unnamed", ""])
      const reply = yield* Effect.flip(endpoint.sendTo(datagram.from.text, "who are you?"))
      expect(reply._tag).toBe("AddressNotFound")
    })))

  it("with passCredentials each datagram carries its sender's pid, uid and gid", () =>
    runCountingFds(Effect.gen(function*() {
      const sender = yield* UnixDatagram.bind()
      const receiver = yield* UnixDatagram.bind({ passCredentials: true })
      yield* sender.sendTo(receiver.address.text, "who sent this?")
      const datagram = yield* receiver.receive
      expect(datagram.credentials).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() })
    })))
})
