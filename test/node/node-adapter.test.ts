import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as NodeUnix from "../../adapters/node/index.ts"
import { UnixSocket } from "../../src/index.ts"
import { receiveOpenFile, receiveSocketFromPeer, root, runCountingFds, spawnScript, succeeded, tempDir } from "../support/helpers.ts"

/** The names of a process's threads. */
const threadNames = (pid: number | "self"): Array<string> =>
  fs.readdirSync(`/proc/${pid}/task`).map((task) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").trim()
    } catch {
      return "" // the thread ended meanwhile
    }
  })

describe("Node adapter", () => {
  it("a received file descriptor reads with node:fs", () =>
    runCountingFds(Effect.gen(function*() {
      using received = yield* receiveOpenFile("read with fs.readFileSync")
      expect(fs.readFileSync(received.value, "utf8")).toBe("read with fs.readFileSync")
    })))

  it("a received socket descriptor becomes a net.Socket that talks to the other process", () =>
    runCountingFds(Effect.gen(function*() {
      const { fd, peer } = yield* receiveSocketFromPeer()
      const socket = NodeUnix.toNetSocket(fd)
      expect(socket).toBeInstanceOf(net.Socket)
      const hello = yield* Effect.promise(() => new Promise<string>((resolve) => socket.once("data", (d) => resolve(d.toString()))))
      expect(hello).toBe("through a socket")
      const closed = new Promise((resolve) => socket.once("close", resolve))
      socket.end("pong")
      expect(yield* Effect.promise(() => succeeded(peer))).toContain("socket reply: pong")
      yield* Effect.promise(() => closed) // net.Socket owns the descriptor and closes it
    })))

  it("takes readiness from Node's own event loop: no thread of its own", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair()
      yield* a.send("over Node's loop")
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(new TextDecoder().decode(message!.data)).toBe("over Node's loop")
      expect(threadNames("self")).not.toContain("unix-socket-io")
    }).pipe(Effect.scoped)))

  it("with UNIX_SOCKET_FD_PASSING_REACTOR=thread, an epoll thread serves the same hand-off between processes", async () => {
    const dir = tempDir()
    const script = path.join(root, "test/fixtures/matrix.ts")
    fs.writeFileSync(`${dir}/superd.txt`, "opened by superd")
    fs.writeFileSync(`${dir}/romd.txt`, "opened by romd")
    const env = { UNIX_SOCKET_FD_PASSING_REACTOR: "thread" }
    const superd = spawnScript(script, ["superd", `${dir}/s.sock`, `${dir}/superd.txt`], { runtime: "node", env })
    await superd.waitFor("listening")
    expect(threadNames(superd.pid)).toContain("unix-socket-io")
    const romd = spawnScript(script, ["romd", `${dir}/s.sock`, `${dir}/romd.txt`], { runtime: "node", env })
    const [superdOut, romdOut] = await Promise.all([succeeded(superd), succeeded(romd)])
    expect(romdOut).toContain(`read "superd's file from node": "opened by superd"`)
    expect(superdOut).toContain(`read "romd's file from node": "opened by romd"`)
    fs.rmSync(dir, { recursive: true })
  })
})
