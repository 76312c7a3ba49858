import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { RpcClient } from "effect/rpc"
import * as Socket from "effect/socket/Socket"
import { EffectSocket, UnixSocket } from "../../src/index.ts"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import * as Supervisor from "../../examples/rpc-supervisor.ts"
import { isRoot, runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

describe("effect/socket adapters", () => {
  it("a Connection as a Socket: frames both ways, a clean end is SocketCloseError 1000, closing the reader's scope fails a waiting pull", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      const socketA = EffectSocket.fromConnection(a)
      const socketB = EffectSocket.fromConnection(b)
      const writerA = yield* socketA.writer
      yield* writerA.writeAll(["one", new TextEncoder().encode("two")])
      const reader = yield* socketB.reader
      const frames: Array<Uint8Array | string> = []
      while (frames.length < 2) frames.push(...(yield* reader.pull)) // one frame per message sent
      expect(frames.map((frame) => new TextDecoder().decode(frame as Uint8Array))).toEqual(["one", "two"])
      yield* writerA.write(new Socket.CloseEvent(1000)) // half-close: b sees a clean end
      const end = yield* Effect.flip(reader.pull)
      expect(end.reason).toMatchObject({ _tag: "SocketCloseError", code: 1000 })

      const [c, d] = yield* UnixSocket.pair("stream")
      const scope = yield* Scope.make()
      const waiting = yield* Effect.forkChild(Effect.flatMap(Scope.provide(EffectSocket.fromConnection(d).reader, scope), (r) => r.pull))
      yield* Effect.sleep(20)
      yield* Scope.close(scope, Exit.void)
      const failed = yield* Effect.flip(Fiber.join(waiting))
      expect(failed._tag).toBe("SocketError")
      expect(d.isClosed).toBe(true)
      yield* c.close
    })))
})

describe("Effect RPC over a credential-checked socket", () => {
  it("each handler learns its caller from the kernel: a method refused to non-root callers, allowed to root", () =>
    runCountingFds(Effect.gen(function*() {
      const address = `${tempDir()}/rpc.sock`
      yield* Layer.build(Supervisor.server(address)) // the server runs until this test's scope closes
      const clientLayer = yield* Layer.build(Supervisor.client(address))
      const supervisor = yield* RpcClient.make(Supervisor.Supervisor).pipe(Effect.provide(clientLayer))
      expect(yield* supervisor.Status()).toBe(`running; you are pid ${process.pid}, uid ${process.getuid!()}`)
      const shutdown = yield* Effect.result(supervisor.Shutdown({ service: "romd" }))
      if (isRoot) {
        expect(shutdown).toMatchObject({ _tag: "Success", success: "shutting down romd" })
        const nobody = spawnPeer("rpc-client", [address], { uid: 65534 })
        const stdout = yield* Effect.promise(() => succeeded(nobody))
        expect(stdout).toContain(`status: running; you are pid ${nobody.pid}, uid 65534`)
        expect(stdout).toContain("shutdown: refused: uid 65534 may not shut down romd")
      } else {
        expect(shutdown).toMatchObject({ _tag: "Failure", failure: { _tag: "Forbidden" } })
      }
    })))
})
