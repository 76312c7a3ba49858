import { Effect } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import * as NodeUnix from "../../adapters/node/index.ts"
import { receiveOpenFile, receiveSocketFromPeer, runCountingFds, succeeded } from "../support/helpers.ts"

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
})
