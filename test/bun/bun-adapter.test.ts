/** Bun-specific conversions, run by the real `bun test`. */
// @ts-ignore: bun:test exists only under Bun
import { describe, expect, test } from "bun:test"
import { Effect } from "effect"
import * as BunUnix from "../../adapters/bun/index.ts"
import { receiveOpenFile, receiveSocketFromPeer, runCountingFds, succeeded } from "../support/helpers.ts"

describe("Bun adapter", () => {
  test("a received file descriptor reads with Bun.file(fd.value), which leaves it open for its owner", () =>
    runCountingFds(Effect.gen(function*() {
      using received = yield* receiveOpenFile("read with Bun.file")
      const text = yield* Effect.promise(() => Bun.file(received.value).text())
      expect(text).toBe("read with Bun.file")
      expect(received.type()).toBe("file") // still open: ours to close, once
    })))

  test("a received socket descriptor becomes a Bun socket that talks to the other process", () =>
    runCountingFds(Effect.gen(function*() {
      const { fd, peer } = yield* receiveSocketFromPeer()
      let closed!: () => void
      const whenClosed = new Promise<void>((resolve) => (closed = resolve))
      const hello = yield* Effect.promise(() =>
        new Promise<string>((resolve) => {
          void BunUnix.toBunSocket(fd, {
            data: (socket, bytes) => {
              resolve(new TextDecoder().decode(bytes))
              socket.end("pong")
            },
            close: () => closed()
          })
        })
      )
      expect(fd.isOpen).toBe(false) // taken: the Bun socket owns it now
      expect(hello).toBe("through a socket")
      expect(yield* Effect.promise(() => succeeded(peer))).toContain("socket reply: pong")
      yield* Effect.promise(() => whenClosed) // Bun closes the descriptor with its socket
    })))
})
