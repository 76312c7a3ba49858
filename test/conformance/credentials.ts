import { Effect, Stream } from "effect"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Message, Pidfd, Policy, UnixServer, UnixSocket } from "../../src/index.ts"
import { isRoot, runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

const self = () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() })

/**
 * A server open to every uid that asks for per-message credentials; `received(n)` collects
 * everything the next `n` connections send until they close, connection by connection.
 */
const credentialServer = Effect.gen(function*() {
  const server = yield* UnixServer.listen({
    address: `${tempDir()}/c.sock`,
    passCredentials: true,
    mode: 0o666,
    authorize: Policy.allowAll
  })
  const received = (n: number) =>
    server.connections.pipe(
      Stream.take(n),
      Stream.mapEffect((connection) => Stream.runCollect(connection.messages)),
      Stream.runCollect
    )
  return { server, received }
})

describe("credentials", () => {
  it("with passCredentials each message carries the sender's pid, uid and gid from the kernel", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("seqpacket", { passCredentials: true })
      yield* a.send("who am I")
      yield* a.send({ data: "explicitly", credentials: true })
      const messages = yield* b.messages.pipe(Stream.take(2), Stream.runCollect)
      expect(messages.map((m) => m.credentials)).toEqual([self(), self()])
    })))

  it("a server with passCredentials learns each message's sender from the kernel, across processes", () =>
    runCountingFds(Effect.gen(function*() {
      const { received, server } = yield* credentialServer
      const child = spawnPeer("claim", [server.address.text, String(process.getuid!())])
      expect(yield* Effect.promise(() => succeeded(child))).toContain("claim: sent")
      const [messages] = yield* received(1)
      const message = messages![0]
      expect(Message.text(message!)).toBe("claiming")
      expect(message!.credentials).toEqual({ pid: child.pid, uid: process.getuid!(), gid: process.getgid!() })
    })))

  if (isRoot) {
    it("root may claim other credentials, and the receiver sees exactly the claim", () =>
      runCountingFds(Effect.gen(function*() {
        const [a, b] = yield* UnixSocket.pair("stream", { passCredentials: true })
        yield* a.send({ data: "on behalf of init", credentials: { pid: 1, uid: 65534, gid: 65534 } })
        const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(message!.credentials).toEqual({ pid: 1, uid: 65534, gid: 65534 })
      })))

    it("a process that is not root claiming another uid gets PermissionDenied", () =>
      runCountingFds(Effect.gen(function*() {
        const { received, server } = yield* credentialServer
        const liar = spawnPeer("claim", [server.address.text, "0"], { uid: 65534 })
        expect(yield* Effect.promise(() => succeeded(liar))).toContain("claim: error PermissionDenied EPERM")
        const honest = spawnPeer("claim", [server.address.text, "65534"], { uid: 65534 })
        expect(yield* Effect.promise(() => succeeded(honest))).toContain("claim: sent")
        const [fromLiar, fromHonest] = yield* received(2)
        expect(fromLiar).toEqual([]) // the false claim never left the liar
        expect(fromHonest!.map((m) => m.credentials)).toEqual([{ pid: honest.pid, uid: 65534, gid: 65534 }])
      })))
  }

  it("peer.pidfd reaches exactly the peer process: signal it, see it exit, and then ESRCH", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/p.sock` })
      const child = spawnPeer("linger", [server.address.text])
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      expect(connection!.peer.pid).toBe(child.pid)
      const pidfd = yield* connection!.peer.pidfd
      yield* Effect.promise(() => child.waitFor("connected"))
      yield* Pidfd.signal(pidfd, "SIGTERM")
      yield* Pidfd.exited(pidfd)
      expect((yield* Effect.promise(() => child.exited)).signal).toBe("SIGTERM")
      const gone = yield* Effect.flip(Pidfd.signal(pidfd, "SIGTERM"))
      expect(gone).toMatchObject({ _tag: "SystemError", code: "ESRCH" })
      pidfd.close()
      yield* connection!.close
      const closed = yield* Effect.flip(connection!.peer.pidfd)
      expect(closed._tag).toBe("Closed")
    })))
})
