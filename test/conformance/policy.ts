import { Effect } from "effect"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { type PeerRejected, Policy, UnixServer } from "../../src/index.ts"
import { isRoot, runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

/** A server whose handler records every byte it is ever given. */
const guardedServer = (address: string, authorize?: Policy.Policy) =>
  Effect.gen(function*() {
    const rejections: Array<PeerRejected> = []
    const processed: Array<string> = []
    const server = yield* UnixServer.listen({
      address,
      mode: 0o666, // the file mode lets anyone connect: the policy alone decides
      authorize,
      onRejected: (rejection) => Effect.sync(() => void rejections.push(rejection))
    })
    yield* Effect.forkScoped(
      server.serve((connection) =>
        connection.handleMessages((message) =>
          Effect.andThen(
            Effect.sync(() => void processed.push(new TextDecoder().decode(message.data))),
            connection.send("welcome")
          )
        )
      )
    )
    return { server, rejections, processed }
  })

describe("authorization on SO_PEERCRED, before any read", () => {
  it("the default policy (same user) serves a peer of our uid", () =>
    runCountingFds(Effect.gen(function*() {
      const { processed, rejections, server } = yield* guardedServer(`${tempDir()}/p.sock`)
      const friend = spawnPeer("knock", [server.address.text])
      const stdout = yield* Effect.promise(() => succeeded(friend))
      expect(stdout).toContain("outcome: reply welcome")
      expect(processed).toContain("secret")
      expect(rejections).toHaveLength(0)
      expect(server.rejected).toBe(0)
    })))

  // Starting a process as another uid needs root (CI runs as root).
  if (isRoot) it("a peer running as another uid (65534) is refused: nothing it sent is processed, and the refusal is reported", () =>
    runCountingFds(Effect.gen(function*() {
      const { processed, rejections, server } = yield* guardedServer(`${tempDir()}/p.sock`)
      const intruder = spawnPeer("knock", [server.address.text], { uid: 65534 })
      const stdout = yield* Effect.promise(() => succeeded(intruder))
      expect(stdout).toMatch(/outcome: (end-of-stream|error Closed)/)
      expect(processed).toEqual([])
      expect(server.rejected).toBe(1)
      expect(server.accepted).toBe(0)
      expect(rejections[0]!.peer.uid).toBe(65534)
      expect(rejections[0]!.peer.pid).toBe(intruder.pid)
      expect(rejections[0]!.policy).toBe("sameUser")
    })))

  it("a Policy.custom refusal closes the peer before reading and names the policy", () =>
    runCountingFds(Effect.gen(function*() {
      const noOne = Policy.custom(() => false, "no-one")
      const { processed, rejections, server } = yield* guardedServer(`${tempDir()}/p.sock`, noOne)
      const child = spawnPeer("knock", [server.address.text])
      const stdout = yield* Effect.promise(() => succeeded(child))
      expect(stdout).toMatch(/outcome: (end-of-stream|error Closed)/)
      expect(processed).toEqual([])
      expect(rejections.map((r) => [r.policy, r.peer.pid])).toEqual([["no-one", child.pid]])
    })))

  it("an effectful policy that fails refuses (fail closed); one that allows lets the peer in", () =>
    runCountingFds(Effect.gen(function*() {
      const broken = Policy.custom(() => Effect.die("lookup failed"), "broken")
      const first = yield* guardedServer(`${tempDir()}/p.sock`, broken)
      yield* Effect.promise(() => succeeded(spawnPeer("knock", [first.server.address.text])))
      expect(first.server.rejected).toBe(1)
      const combined = Policy.any(Policy.allowUids([12345]), Policy.allowGids([process.getgid!()]))
      const second = yield* guardedServer(`${tempDir()}/p.sock`, combined)
      yield* Effect.promise(() => succeeded(spawnPeer("knock", [second.server.address.text])))
      expect(second.server.accepted).toBe(1)
      expect(second.processed).toEqual(["secret"])
    })))

  it("Policy.all needs every policy; sameUser admits our uid and root; allowUids checks the uid", () =>
    Effect.runPromise(Effect.gen(function*() {
      const self = { uid: 1000, gid: 1000 }
      const peer = { pid: 1, uid: 1000, gid: 50, pidfd: Effect.die("no socket here") }
      expect(yield* Policy.authorize(Policy.all(Policy.sameUser, Policy.allowGids([50])), peer, self)).toBe(true)
      expect(yield* Policy.authorize(Policy.all(Policy.sameUser, Policy.allowGids([51])), peer, self)).toBe(false)
      expect(yield* Policy.authorize(Policy.sameUser, { ...peer, uid: 0 }, self)).toBe(true)
      expect(yield* Policy.authorize(Policy.sameUser, { ...peer, uid: 1001 }, self)).toBe(false)
      expect(yield* Policy.authorize(Policy.allowUids([7]), { ...peer, uid: 7 }, self)).toBe(true)
      expect(yield* Policy.authorize(Policy.custom(() => { throw new Error("boom") }), peer, self)).toBe(false)
    })))

  it("abstract addresses have no file permissions, and the policy still applies", () =>
    runCountingFds(Effect.gen(function*() {
      const { processed, server } = yield* guardedServer(`@usfp-policy-${process.pid}`, Policy.custom(() => false))
      yield* Effect.promise(() => succeeded(spawnPeer("knock", [server.address.text])))
      expect(server.rejected).toBe(1)
      expect(processed).toEqual([])
    })))
})
