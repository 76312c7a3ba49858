import { Effect, Stream } from "effect"
import { AsyncLocalStorage } from "node:async_hooks"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Fd, Message, UnixSocket } from "../../src/index.ts"
import { root, runCountingFds, runtime, spawnPeer, spawnScript, succeeded, tempDir } from "../support/helpers.ts"

/** The flags that let a child process of this runtime collect its garbage on demand. */
const exposeGc = { node: ["--expose-gc"], bun: [], deno: ["--v8-flags=--expose-gc"] }[runtime]

describe("lifetime and ownership", () => {
  it("an open server keeps its process alive; once everything is closed the process exits by itself", () =>
    runCountingFds(Effect.gen(function*() {
      const address = `${tempDir()}/once.sock`
      const child = spawnPeer("serve-once", [address])
      yield* Effect.promise(() => child.waitFor("listening"))
      // Nothing but the open listener holds the child's event loop now: it must still be there.
      yield* Effect.sleep(300)
      const client = yield* UnixSocket.connect({ address })
      yield* client.send("one request")
      const [reply] = yield* client.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(reply!)).toBe("served one request")
      const stdout = yield* Effect.promise(() => succeeded(child)) // exit 0 with no process.exit call
      expect(stdout).toContain("closing")
      expect(fs.existsSync(address)).toBe(false)
    })))

  it("works in Workers beside the main thread, and the process exits on its own, even after terminating a worker", async () => {
    for (const mode of ["finish", "terminate"]) {
      const child = spawnScript(`${root}/test/fixtures/workers-main.ts`, [mode])
      const result = await child.exited
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("main thread: 100 pings, hello from the main thread")
      expect(result.stdout).toContain("worker 1: 100 pings, hello from worker 1")
      expect(result.stdout).toContain("worker 2: 100 pings, hello from worker 2")
      if (mode === "terminate") expect(result.stdout).toContain("terminated a worker with a running reactor")
    }
  })

  it("an Fd dropped while open is closed by the garbage-collection backstop, with a warning", async () => {
    const child = spawnPeer("gc-backstop", [], { flags: exposeGc })
    const result = await child.exited
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/opened (\d+): true/)
    expect(result.stdout).toMatch(/after gc \d+: closed/)
    expect(result.stderr).toContain("was garbage-collected while open and has been closed")
  })

  it("waiting on a socket keeps no memory per wait: 20,000 round trips leave the heap where it was", async () => {
    // Each round trip makes two fibers wait on their sockets. In Deno 2.9 under effect 4.1 every
    // round trip used to keep about 0.9 KiB (a chain of AsyncResources as long as each fiber lives).
    const stdout = await succeeded(spawnPeer("wait-heap", ["20000"], { flags: exposeGc }))
    const [, before, after] = /heap before (\d+) after (\d+) round trips 20000/.exec(stdout) ?? []
    expect(before).toBeDefined()
    expect(Number(after) - Number(before)).toBeLessThan(1024 * 1024)
  })

  it("an AsyncLocalStorage value set around a program is seen after a socket wait (in Deno it is not: the wait resumes outside it, as the README says)", async () => {
    const storage = new AsyncLocalStorage<string>()
    const seen = await storage.run("request-1", () =>
      runCountingFds(Effect.gen(function*() {
        const [a, b] = yield* UnixSocket.pair("stream")
        const before = storage.getStore()
        yield* Effect.forkScoped(Effect.delay(a.send("late"), 20)) // so that receive has to wait
        yield* b.receive
        return [before, storage.getStore()]
      })))
    expect(seen).toEqual(["request-1", runtime === "deno" ? undefined : "request-1"])
  })

  it("a descriptor number reused after close is never closed by the library", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream")
      const sent = yield* Fd.open("/dev/null")
      yield* a.send({ data: "x", fds: [sent] })
      sent.close()
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      const received = message!.fds[0]!
      const number = received.value
      received.close()
      received.close() // idempotent
      const file = `${tempDir()}/reused.txt`
      fs.writeFileSync(file, "still mine")
      using reused = yield* Fd.open(file) // the kernel hands out the lowest free number
      expect(reused.value).toBe(number)
      yield* b.close // closes unclaimed descriptors: must not touch the reused number
      expect(new TextDecoder().decode(reused.readAll())).toBe("still mine")
      expect(() => received.value).toThrow(/closed/)
    })))

  it("a raw STREAM message carries descriptors with its bytes", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("stream", { framing: "raw" })
      const [read, write] = yield* Fd.pipe()
      yield* a.send({ data: "pipe", fds: [read] })
      read.close()
      write.write("raw works")
      write.close()
      const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(message!)).toBe("pipe")
      using fd = message!.fds[0]!
      expect(new TextDecoder().decode(fd.readAll())).toBe("raw works")
      const empty = yield* Effect.flip(a.send({ fds: [0] }))
      expect(empty._tag).toBe("ProtocolError") // a STREAM needs one byte to carry descriptors
    })))

  it("closing an Fd while its readable() waits ends the read with Closed, and its number serves the next socket", () =>
    runCountingFds(Effect.gen(function*() {
      const [read, write] = yield* Fd.pipe()
      const number = read.value
      const reader = read.readable().getReader()
      const pending = reader.read().then(() => "read", (error: { _tag?: string }) => error._tag)
      yield* Effect.sleep(20) // the read is parked on the reactor now
      read.close()
      expect(yield* Effect.promise(() => pending)).toBe("Closed")
      // The number goes to the next socket, which must be watched afresh (no stale watch on it).
      const [a, b] = yield* UnixSocket.pair()
      expect([a.fd, b.fd]).toContain(number)
      yield* a.send("after the reuse")
      yield* b.send("both ways")
      const [atB] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
      const [atA] = yield* a.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(Message.text(atB!)).toBe("after the reuse")
      expect(Message.text(atA!)).toBe("both ways")
      write.close()
    }).pipe(Effect.scoped)))
})
