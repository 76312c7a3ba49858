import { Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import * as NodeUnix from "../../adapters/node/index.ts"
import { Fd, UnixServer, UnixSocket } from "../../src/index.ts"
import { root, runCountingFds, spawnPeer, succeeded, tempDir } from "../support/helpers.ts"

describe("Node adapter", () => {
  it("a received file descriptor reads with node:fs", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("seqpacket")
      const file = `${tempDir()}/f.txt`
      fs.writeFileSync(file, "read with fs.readSync")
      const fd = yield* Fd.open(file)
      yield* a.send({ fds: [fd] })
      fd.close()
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      using received = message!.fds[0]!
      expect(fs.readFileSync(received.value, "utf8")).toBe("read with fs.readSync")
    })))

  it("a received socket descriptor becomes a net.Socket that talks to the other process", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/s.sock` })
      const child = spawnPeer("send-fds", [server.address.text, "socket"])
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      const [message] = yield* connection!.messages.pipe(Stream.take(1), Stream.runCollect)
      const socket = NodeUnix.toNetSocket(message!.fds[0]!)
      expect(socket).toBeInstanceOf(net.Socket)
      const hello = yield* Effect.promise(() => new Promise<string>((resolve) => socket.once("data", (d) => resolve(d.toString()))))
      expect(hello).toBe("through a socket")
      const closed = new Promise((resolve) => socket.once("close", resolve))
      socket.end("pong")
      expect(yield* Effect.promise(() => succeeded(child))).toContain("socket reply: pong")
      yield* Effect.promise(() => closed) // net.Socket owns the descriptor and closes it
    })))

  it("works in worker_threads beside the main thread, and the process exits on its own", async () => {
    for (const mode of ["finish", "terminate"]) {
      const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/workers-main.ts", mode], { cwd: root })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d: Buffer) => (stdout += d))
      child.stderr.on("data", (d: Buffer) => (stderr += d))
      const code = await new Promise((resolve) => child.on("close", resolve))
      expect(stderr).toBe("")
      expect(code).toBe(0)
      expect(stdout.match(/100 pings, hello from thread/g)).toHaveLength(3)
      if (mode === "terminate") expect(stdout).toContain("terminated a running worker")
    }
  })
})
