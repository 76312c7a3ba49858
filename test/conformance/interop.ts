import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import type { SocketType } from "../../src/Connection.ts"
import { Fd, Message, UnixDatagram, UnixServer, UnixSocket } from "../../src/index.ts"
import { isRoot, runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"
import { cProgram, fdLine, peerLine, python, receivedLine } from "../support/interop.ts"

const me = () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() })
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Our side's message: "from js" with an open file of ours, and our credentials attached. */
const ourMessage = (dir: string) =>
  Effect.gen(function*() {
    fs.writeFileSync(`${dir}/ours.txt`, "js file content")
    const fd = yield* Fd.scoped(yield* Fd.open(`${dir}/ours.txt`))
    return { data: "from js", fds: [fd], credentials: true } as const
  })

/** What the other side printed on receiving `ourMessage`. */
const sawOurMessage = (stdout: string, from?: string) => {
  expect(stdout).toContain(receivedLine("from js", 1, me(), from))
  expect(stdout).toContain(fdLine(0, "file", "js file content"))
}

/** Checks the other side's message: its text, its pipe's content, its sender as the kernel says. */
const isTheirMessage = (message: Message.Message, language: "python" | "c", pid: number) => {
  expect(Message.text(message)).toBe(`from ${language}`)
  expect(message.fds).toHaveLength(1)
  expect(message.fds[0]!.type()).toBe("fifo")
  expect(text(message.fds[0]!.readAll())).toBe(`${language} pipe content`)
  expect(message.credentials).toEqual({ pid, uid: process.getuid!(), gid: process.getgid!() })
}

const types: ReadonlyArray<SocketType> = ["stream", "seqpacket"]

describe("interop with Python (socket.send_fds, recv_fds, SO_PEERCRED, SO_PASSCRED)", () => {
  for (const type of types) {
    it(`our ${type} server ⇄ a Python client: descriptors and credentials both ways`, () =>
      runCountingFds(Effect.gen(function*() {
        const dir = tempDir()
        const server = yield* UnixServer.listen({ address: `${dir}/s.sock`, type, framing: "raw", passCredentials: true })
        const peer = python(["client", type, server.address.text])
        const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
        expect(connection!.peer.pid).toBe(peer.pid)
        const [message] = yield* connection!.messages.pipe(Stream.take(1), Stream.runCollect)
        isTheirMessage(message!, "python", peer.pid)
        yield* connection!.send(yield* ourMessage(dir))
        const stdout = yield* Effect.promise(() => succeeded(peer))
        expect(stdout).toContain(peerLine(me()))
        sawOurMessage(stdout)
      })))

    it(`a Python ${type} server ⇄ our client: descriptors and credentials both ways`, () =>
      runCountingFds(Effect.gen(function*() {
        const dir = tempDir()
        const peer = python(["server", type, `${dir}/py.sock`])
        yield* Effect.promise(() => peer.waitFor("listening"))
        const connection = yield* UnixSocket.connect({ address: `${dir}/py.sock`, type, framing: "raw", passCredentials: true })
        expect(connection.peer.pid).toBe(peer.pid)
        yield* connection.send(yield* ourMessage(dir))
        const [message] = yield* connection.messages.pipe(Stream.take(1), Stream.runCollect)
        isTheirMessage(message!, "python", peer.pid)
        yield* connection.close
        const stdout = yield* Effect.promise(() => succeeded(peer))
        expect(stdout).toContain(peerLine(me()))
        sawOurMessage(stdout)
      })))
  }

  it("our datagram endpoint ⇄ a Python datagram client: sender addresses, descriptors and credentials both ways", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const endpoint = yield* UnixDatagram.bind({ address: `${dir}/js.sock`, passCredentials: true })
      const peer = python(["dgram-client", endpoint.address.text, `${dir}/py.sock`])
      const datagram = yield* endpoint.receive
      expect(datagram.from.text).toBe(`${dir}/py.sock`)
      isTheirMessage(datagram, "python", peer.pid)
      yield* endpoint.sendTo(datagram.from.text, yield* ourMessage(dir))
      sawOurMessage(yield* Effect.promise(() => succeeded(peer)), `${dir}/js.sock`)
    })))

  it("a Python datagram server ⇄ our autobound endpoint: it replies to the name the kernel gave us", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const peer = python(["dgram-server", `@usfp-py-${process.pid}`])
      yield* Effect.promise(() => peer.waitFor("bound"))
      const endpoint = yield* UnixDatagram.bind({ passCredentials: true })
      yield* endpoint.sendTo(`@usfp-py-${process.pid}`, yield* ourMessage(dir))
      const reply = yield* endpoint.receive
      expect(reply.from.text).toBe(`@usfp-py-${process.pid}`)
      isTheirMessage(reply, "python", peer.pid)
      sawOurMessage(yield* Effect.promise(() => succeeded(peer)), endpoint.address.text)
    })))

  it("a Python implementation of the README's wire format sends 2,000 framed messages with descriptors; we echo them", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/framed.sock` })
      yield* Effect.forkScoped(server.serve((connection) =>
        connection.handleMessages((message) => connection.send({ data: message.data, fds: message.fds }))
      ))
      const peer = python(["framed-client", server.address.text, "2000"])
      expect(yield* Effect.promise(() => succeeded(peer))).toContain("framed ok 2000")
    })))

  it("we send framed messages with descriptors to a Python framed server, which decodes and echoes them", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const peer = python(["framed-server", `${dir}/framed.sock`])
      yield* Effect.promise(() => peer.waitFor("listening"))
      const connection = yield* UnixSocket.connect({ address: `${dir}/framed.sock` })
      const count = 300
      yield* Effect.forkScoped(Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          const fds: Array<Fd> = []
          for (let j = 0; j < i % 4; j++) {
            const [read, write] = yield* Fd.pipe()
            write.write(`js frame ${i} fd ${j}`)
            write.close()
            fds.push(read)
          }
          yield* connection.send({ data: `js frame ${i}`, fds })
          for (const fd of fds) fd.close()
        }), { discard: true }))
      let i = 0
      yield* connection.messages.pipe(
        Stream.take(count),
        Stream.runForEach((echo) =>
          Effect.sync(() => {
            expect(Message.text(echo)).toBe(`js frame ${i}`)
            expect(echo.fds.map((fd) => text(fd.readAll()))).toEqual(Array.from({ length: i % 4 }, (_, j) => `js frame ${i} fd ${j}`))
            for (const fd of echo.fds) fd.close()
            i++
          })
        )
      )
      yield* connection.end
      const stdout = yield* Effect.promise(() => succeeded(peer))
      expect(stdout).toContain(`frames ${count}`)
      expect(stdout).toContain(`frame text="js frame 7" fds=["js frame 7 fd 0","js frame 7 fd 1","js frame 7 fd 2"]`)
    })))
})

describe("interop with C (serv_listen / serv_accept / cli_conn)", () => {
  it("a C cli_conn client against our server: we see its bound path and pid, and trade descriptors", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const server = yield* UnixServer.listen({ address: `${dir}/s.sock`, framing: "raw", passCredentials: true })
      const peer = cProgram(["client", server.address.text, `${dir}/c-client.sock`])
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      expect(connection!.remoteAddress.text).toBe(`${dir}/c-client.sock`)
      expect(connection!.peer.pid).toBe(peer.pid)
      const [message] = yield* connection!.messages.pipe(Stream.take(1), Stream.runCollect)
      isTheirMessage(message!, "c", peer.pid)
      yield* connection!.send(yield* ourMessage(dir))
      const stdout = yield* Effect.promise(() => succeeded(peer))
      expect(stdout).toContain(peerLine(me()))
      sawOurMessage(stdout)
    })))

  it("our client with bind against the C serv_accept server: it accepts us and learns our uid from the bound file", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const peer = cProgram(["server", `${dir}/c.sock`])
      yield* Effect.promise(() => peer.waitFor("listening"))
      const connection = yield* UnixSocket.connect({ address: `${dir}/c.sock`, bind: `${dir}/js-client.sock`, framing: "raw", passCredentials: true })
      yield* connection.send(yield* ourMessage(dir))
      const [message] = yield* connection.messages.pipe(Stream.take(1), Stream.runCollect)
      isTheirMessage(message!, "c", peer.pid)
      yield* connection.close
      const stdout = yield* Effect.promise(() => succeeded(peer))
      expect(stdout).toContain(`accepted uid=${process.getuid!()} path=${JSON.stringify(`${dir}/js-client.sock`)}`)
      expect(stdout).toContain(peerLine(me()))
      sawOurMessage(stdout)
      expect(fs.existsSync(`${dir}/js-client.sock`)).toBe(false) // serv_accept removed it, as is its way
    })))

  if (isRoot) {
    it("the C server learns another uid (65534) from our bound client's file, and refuses a client whose file mode is too wide", () =>
      Effect.runPromise(Effect.gen(function*() {
        const dir = tempDir()
        fs.chmodSync(dir, 0o1777) // the clients of uid 65534 bind their files here (sticky, as /tmp)
        const peer = cProgram(["server", `${dir}/c.sock`, "1"])
        yield* Effect.promise(() => peer.waitFor("listening"))
        fs.chmodSync(`${dir}/c.sock`, 0o777)
        const sloppy = spawnPeer("bind-client", [`${dir}/c.sock`, `${dir}/sloppy.sock`, "755"], { uid: 65534 })
        expect(yield* Effect.promise(() => succeeded(sloppy))).toMatch(/outcome: (end-of-stream|error Closed)/)
        const proper = spawnPeer("bind-client", [`${dir}/c.sock`, `${dir}/proper.sock`], { uid: 65534 })
        expect(yield* Effect.promise(() => succeeded(proper))).toContain('outcome: reply "from c" with 1 descriptor')
        const stdout = yield* Effect.promise(() => succeeded(peer))
        expect(stdout).toContain("refused code=-4") // mode 0755: not the owner-only file serv_accept trusts
        expect(stdout).toContain(`accepted uid=65534 path=${JSON.stringify(`${dir}/proper.sock`)}`)
      })))
  }

  it("a C datagram client ⇄ our endpoint, and our endpoint ⇄ a C datagram server", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const endpoint = yield* UnixDatagram.bind({ address: `${dir}/js.sock`, passCredentials: true })
      const client = cProgram(["dgram-client", endpoint.address.text, `${dir}/c-client.sock`])
      const datagram = yield* endpoint.receive
      expect(datagram.from.text).toBe(`${dir}/c-client.sock`)
      isTheirMessage(datagram, "c", client.pid)
      yield* endpoint.sendTo(datagram.from.text, yield* ourMessage(dir))
      sawOurMessage(yield* Effect.promise(() => succeeded(client)), `${dir}/js.sock`)

      const server = cProgram(["dgram-server", `${dir}/c-server.sock`])
      yield* Effect.promise(() => server.waitFor("bound"))
      yield* endpoint.sendTo(`${dir}/c-server.sock`, yield* ourMessage(dir))
      const reply = yield* endpoint.receive
      expect(reply.from.text).toBe(`${dir}/c-server.sock`)
      isTheirMessage(reply, "c", server.pid)
      sawOurMessage(yield* Effect.promise(() => succeeded(server)), `${dir}/js.sock`)
    })))
})
