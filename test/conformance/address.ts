import { Duration, Effect, Fiber, Option, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Address, Message, UnixDatagram, UnixServer, UnixSocket } from "../../src/index.ts"
import { readProc, runCountingFds, tempDir } from "../support/helpers.ts"

/** Leaves a socket file nobody listens on: a real process binds it and exits. */
const staleSocket = (path: string) =>
  execFileSync("python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", path])

describe("addresses", () => {
  it("a stale socket file (nobody listening) is replaced", () =>
    runCountingFds(Effect.gen(function*() {
      const path = `${tempDir()}/stale.sock`
      staleSocket(path)
      expect(fs.lstatSync(path).isSocket()).toBe(true)
      const server = yield* UnixServer.listen({ address: path })
      const client = yield* UnixSocket.connect({ address: path })
      expect(client.peer.pid).toBe(process.pid)
      yield* server.close
      expect(fs.existsSync(path)).toBe(false) // closing removes the file
    })))

  it("a live listener gives AddressInUse and keeps its socket file", () =>
    runCountingFds(Effect.gen(function*() {
      const path = `${tempDir()}/live.sock`
      yield* UnixServer.listen({ address: path })
      const error = yield* Effect.flip(UnixServer.listen({ address: path }))
      expect(error._tag).toBe("AddressInUse")
      expect(error.message).toContain("live server")
      yield* UnixSocket.connect({ address: path }) // the first server is still reachable
    })))

  it("a regular file at the path is left untouched and reported", () =>
    runCountingFds(Effect.gen(function*() {
      const path = `${tempDir()}/precious.txt`
      fs.writeFileSync(path, "keep me")
      const error = yield* Effect.flip(UnixServer.listen({ address: path }))
      expect(error._tag).toBe("AddressInUse")
      expect(error.message).toContain("not a socket")
      expect(fs.readFileSync(path, "utf8")).toBe("keep me")
    })))

  it("a symlink planted at the path is not followed, not removed, and its target survives", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const target = `${dir}/target`
      staleSocket(target)
      fs.symlinkSync(target, `${dir}/link.sock`)
      const error = yield* Effect.flip(UnixServer.listen({ address: `${dir}/link.sock` }))
      expect(error._tag).toBe("AddressInUse")
      expect(fs.lstatSync(`${dir}/link.sock`).isSymbolicLink()).toBe(true)
      expect(fs.lstatSync(target).isSocket()).toBe(true)
    })))

  it("a path of 107 bytes works; 108 bytes fails with PathTooLong before any syscall", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const fit = `${dir}/${"x".repeat(107 - dir.length - 1)}`
      expect(Buffer.byteLength(fit)).toBe(107)
      yield* UnixServer.listen({ address: fit })
      yield* UnixSocket.connect({ address: fit })
      const error = yield* Effect.flip(UnixServer.listen({ address: fit + "y" }))
      expect(error._tag).toBe("PathTooLong")
      expect(error).toMatchObject({ bytes: 108, limit: 107 })
      const connectError = yield* Effect.flip(UnixSocket.connect({ address: "/" + "é".repeat(60) }))
      expect(connectError._tag).toBe("PathTooLong") // bytes, not characters
    })))

  it("an abstract address works, creates no file, and is matched by its exact length", () =>
    runCountingFds(Effect.gen(function*() {
      const name = `@usfp-${process.pid}-abstract`
      const server = yield* UnixServer.listen({ address: name })
      expect(server.address.kind).toBe("abstract")
      const table = readProc("/proc/net/unix")
      expect(table).toContain(name) // the kernel lists it with its exact name, no padding
      const client = yield* UnixSocket.connect({ address: name })
      expect(client.remoteAddress.text).toBe(name)
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      // Each end names the listener as the server's side, and the unbound client as unnamed.
      expect([client.localAddress.kind, connection!.localAddress.text, connection!.remoteAddress.kind]).toEqual(["unnamed", name, "unnamed"])
      yield* client.send("over the abstract namespace")
      const [message] = yield* connection!.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(message!)).toBe("over the abstract namespace")
      const padded = yield* Effect.flip(UnixSocket.connect({ address: name + "\0" }))
      expect(padded._tag).toBe("ConnectionRefused")
      yield* server.close
      expect(readProc("/proc/net/unix")).not.toContain(name)
    })))

  it("a client's remoteAddress is the address it connected to, as given (here a symlink to the socket)", () =>
    runCountingFds(Effect.gen(function*() {
      const real = `${tempDir()}/real.sock`
      const link = real.replace("real.sock", "link.sock")
      yield* UnixServer.listen({ address: real })
      fs.symlinkSync(real, link)
      const viaLink = yield* UnixSocket.connect({ address: link })
      const direct = yield* UnixSocket.connect({ address: real })
      const againViaLink = yield* UnixSocket.connect({ address: link })
      expect([viaLink.remoteAddress.text, direct.remoteAddress.text, againViaLink.remoteAddress.text]).toEqual([link, real, link])
      expect(viaLink.remoteAddress.kind).toBe("path")
      expect(viaLink.peer.pid).toBe(process.pid) // the same listener behind both names
      // Connections to one address share its Address; writing into it cannot redirect a connect.
      againViaLink.remoteAddress.bytes.fill(0x41)
      const afterScribble = yield* UnixSocket.connect({ address: link })
      expect(afterScribble.peer.pid).toBe(process.pid)
    })))

  it("a closing server stops listening and removes its file before any of its connections ends", () =>
    runCountingFds(Effect.gen(function*() {
      const path = `${tempDir()}/closing.sock`
      const server = yield* UnixServer.listen({ address: path })
      let waiting = 0
      const seenAtEnd: Array<boolean> = []
      yield* Effect.forkScoped(server.serve((connection) =>
        Effect.sync(() => waiting++).pipe(
          Effect.andThen(connection.handleMessages(() => Effect.void)),
          Effect.ensuring(Effect.sync(() => seenAtEnd.push(fs.existsSync(path))))
        )
      ))
      yield* UnixSocket.connect({ address: path })
      yield* UnixSocket.connect({ address: path })
      while (waiting < 2) yield* Effect.sleep(1) // both handlers wait for a message
      yield* server.close
      expect(seenAtEnd).toEqual([false, false]) // each handler ended after the file was gone
      yield* UnixServer.listen({ address: path }) // and the address is free at once
    })))

  it("connecting to a missing path fails with AddressNotFound; to a dead socket with ConnectionRefused", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const missing = yield* Effect.flip(UnixSocket.connect({ address: `${dir}/nothing.sock` }))
      expect(missing._tag).toBe("AddressNotFound")
      expect(missing).toMatchObject({ syscall: "connect", code: "ENOENT", address: `${dir}/nothing.sock` })
      staleSocket(`${dir}/dead.sock`)
      const dead = yield* Effect.flip(UnixSocket.connect({ address: `${dir}/dead.sock` }))
      expect(dead._tag).toBe("ConnectionRefused")
    })))

  it("while the listener's backlog is full, connect waits: bounded by a timeout it gives up and leaves nothing behind; otherwise it completes once the server accepts", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const server = yield* UnixServer.listen({ address: `${dir}/full.sock`, backlog: 1 })
      const connect = (bind?: string) =>
        UnixSocket.connect({ address: server.address.text, bind }).pipe(Effect.timeoutOption(Duration.millis(200)))
      // Nobody accepts: the kernel queues a few connections, then connect cannot complete.
      let queued = 0
      while (Option.isSome(yield* connect())) queued++
      expect(queued).toBeGreaterThan(0)
      expect(queued).toBeLessThan(10)
      // A client bound to a path gives up the same way, and its socket file goes with it.
      expect(Option.isNone(yield* connect(`${dir}/waiting.sock`))).toBe(true)
      expect(fs.existsSync(`${dir}/waiting.sock`)).toBe(false)
      // A connect left waiting completes as soon as the server takes one connection.
      const waiting = yield* Effect.forkChild(UnixSocket.connect({ address: server.address.text }))
      yield* server.connections.pipe(Stream.take(1), Stream.runDrain)
      const connection = yield* Fiber.join(waiting)
      yield* connection.send("through")
      const received = yield* server.connections.pipe(Stream.take(queued), Stream.runCollect) // the rest of the queue, then it
      const last = received[received.length - 1]!
      expect(Message.text((yield* last.messages.pipe(Stream.take(1), Stream.runCollect))[0]!)).toBe("through")
    })))

  it("a client bound to a path (cli_conn) shows the server that path, owner-only, and removes it when it closes", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const server = yield* UnixServer.listen({ address: `${dir}/server.sock` })
      const client = yield* UnixSocket.connect({ address: server.address.text, bind: `${dir}/client.sock` })
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      expect(connection!.remoteAddress.text).toBe(`${dir}/client.sock`)
      expect(client.localAddress.text).toBe(`${dir}/client.sock`)
      const stat = fs.lstatSync(`${dir}/client.sock`)
      expect([stat.isSocket(), stat.mode & 0o777, stat.uid]).toEqual([true, 0o700, process.getuid!()])
      yield* client.close
      expect(fs.existsSync(`${dir}/client.sock`)).toBe(false)
      const abstract = yield* UnixSocket.connect({ address: server.address.text, bind: `@usfp-client-${process.pid}` })
      const [second] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      expect([abstract.localAddress.text, second!.remoteAddress.text]).toEqual([`@usfp-client-${process.pid}`, `@usfp-client-${process.pid}`])
    })))

  it("mode sets a server's or a datagram endpoint's file mode exactly, even bits the umask would remove", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      yield* UnixServer.listen({ address: `${dir}/private.sock`, mode: 0o600 })
      yield* UnixServer.listen({ address: `${dir}/open.sock`, mode: 0o666 })
      yield* UnixDatagram.bind({ address: `${dir}/private.dgram`, mode: 0o600 })
      yield* UnixDatagram.bind({ address: `${dir}/open.dgram`, mode: 0o666 })
      const modes = ["private.sock", "open.sock", "private.dgram", "open.dgram"].map((f) => fs.statSync(`${dir}/${f}`).mode & 0o777)
      expect(modes).toEqual([0o600, 0o666, 0o600, 0o666])
    })))

  it("parses the three kinds of address", () => {
    const parsed = (text: string) => {
      const result = Address.parse(text)
      if (result._tag === "Failure") throw result.failure
      return result.success
    }
    expect(parsed("/run/x.sock")).toMatchObject({ kind: "path", text: "/run/x.sock" })
    expect(Array.from(parsed("@ab").bytes)).toEqual([0, 97, 98])
    expect(parsed("").kind).toBe("unnamed")
    expect(Address.fromBytes(new Uint8Array([0, 120])).text).toBe("@x")
  })
})
