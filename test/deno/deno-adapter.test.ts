/** Deno-specific behaviour, run by the real `deno test` with the flags a user passes. */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "../conformance/expect.ts"
import { UnixServer } from "../../src/index.ts"
import { firstMessage, root, runCountingFds, spawnPeer, spawnScript, succeeded, tempDir } from "../support/helpers.ts"

declare const Deno: {
  test(options: { name: string; fn: () => Promise<void>; sanitizeOps: boolean; sanitizeResources: boolean }): void
}

const test = (name: string, fn: () => Promise<unknown>) =>
  Deno.test({ name: `Deno adapter > ${name}`, fn: async () => void (await fn()), sanitizeOps: false, sanitizeResources: false })

test("a received file descriptor reads through fd.readable(), a Web ReadableStream", () =>
  runCountingFds(Effect.gen(function*() {
    const dir = tempDir()
    fs.writeFileSync(`${dir}/f.txt`, "x".repeat(200_000) + "the end")
    const server = yield* UnixServer.listen({ address: `${dir}/s.sock` })
    const child = spawnPeer("send-fds", [server.address.text, "file", `${dir}/f.txt`])
    const { connection, message } = yield* firstMessage(server)
    using fd = message.fds[0]!
    const text = yield* Effect.promise(() => new Response(fd.readable()).text())
    expect(text.length).toBe(200_007)
    expect(text.endsWith("the end")).toBe(true)
    yield* connection.send("done")
    yield* Effect.promise(() => succeeded(child))
  })))

test("a received pipe reads through fd.readable() without blocking the thread while it waits", () =>
  runCountingFds(Effect.gen(function*() {
    const server = yield* UnixServer.listen({ address: `${tempDir()}/s.sock` })
    const child = spawnPeer("pipe-on-request", [server.address.text])
    const { connection, message } = yield* firstMessage(server)
    using fd = message.fds[0]!
    const reader = fd.readable().getReader()
    const decode = (chunk: { readonly done: boolean; readonly value?: Uint8Array | undefined }) => chunk.done ? "(end)" : new TextDecoder().decode(chunk.value)
    expect(decode(yield* Effect.promise(() => reader.read()))).toBe("first;")
    const pending = reader.read() // nothing to read yet: this waits for the pipe
    yield* Effect.sleep(50) // let the read start waiting
    yield* connection.send("more") // only possible while the waiting read leaves the thread free
    expect(decode(yield* Effect.promise(() => pending))).toBe("second;")
    expect(decode(yield* Effect.promise(() => reader.read()))).toBe("(end)")
    expect(yield* Effect.promise(() => succeeded(child))).toContain("asked: more")
  })))

test("a received pipe's write end takes writes through fd.writable(), a Web WritableStream", () =>
  runCountingFds(Effect.gen(function*() {
    const server = yield* UnixServer.listen({ address: `${tempDir()}/s.sock` })
    const child = spawnPeer("pipe-writer", [server.address.text])
    const { message } = yield* firstMessage(server)
    const fd = message.fds[0]!
    expect(fd.type()).toBe("fifo")
    const big = "y".repeat(300_000) // more than a pipe holds: the writer must wait for the reader
    yield* Effect.promise(() => new Response(`written from Deno;${big}`).body!.pipeTo(fd.writable()))
    fd.close() // the stream borrowed the descriptor; closing it is what the reader sees as the end
    const stdout = yield* Effect.promise(() => succeeded(child))
    expect(stdout).toContain(`pipe content:"written from Deno;yyy`)
    expect(stdout.trim().length).toBe(`pipe content:"written from Deno;${big}"`.length)
  })))

test("without --allow-ffi the layer fails with Unsupported naming the flag", async () => {
  const script = path.join(root, "test/fixtures/deno-no-ffi.ts")
  const denied = spawnScript(script, [], { runtime: "deno", denoFlags: ["--allow-read"] })
  expect(await succeeded(denied)).toContain("layer failed: Unsupported: Deno needs --allow-ffi to load the native addon")
  const allowed = spawnScript(script, [], { runtime: "deno", denoFlags: ["--allow-read", "--allow-ffi"] })
  expect(await succeeded(allowed)).toContain("layer built")
})
