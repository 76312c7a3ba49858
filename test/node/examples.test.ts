/** The README's Node.js examples are printed exactly as in examples/, and run as printed. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Effect, Stream } from "effect"
import * as NodeUnix from "../../adapters/node/index.ts"
import { Message, UnixDatagram, UnixSocket } from "../../src/index.ts"
import { root, spawnProgram, spawnScript, succeeded, tempDir } from "../support/helpers.ts"
import { commandLine } from "../support/runtime.ts"

const examples: ReadonlyArray<readonly [string, ReadonlyArray<RegExp>]> = [
  ["promise.ts", [/^romd is pid (\d+), uid \d+$/m, /^hostname: \S+$/m]],
  ["rpc.ts", [
    new RegExp(`^running; you are pid (\\d+), uid ${process.getuid!()}$`, "m"),
    process.getuid!() === 0 ? /^shutting down romd$/m : /^refused: uid \d+ may not shut down romd$/m
  ]],
  ["bulk.ts", [/^256 messages, 64 MiB, one buffer$/m]],
  ["datagram.ts", [/^load=0\.42 from @[0-9a-f]{5}, pid (\d+)$/m, /^reporter got: thanks$/m]],
  ["credentials.ts", [/^connected: pid (\d+), uid \d+, gid \d+$/m, /^status\? sent by pid (\d+)$/m, /^signalled pid (\d+) through its pidfd$/m]]
]

describe("README examples", () => {
  for (const [file, expected] of examples) {
    it(`examples/${file} is in the README as printed and runs as written`, async () => {
      const example = path.join(root, "examples", file)
      const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
      expect(readme).toContain("```ts\n" + fs.readFileSync(example, "utf8") + "```")
      if (file === "rpc.ts") expect(readme).toContain("```ts\n" + fs.readFileSync(path.join(root, "examples/rpc-supervisor.ts"), "utf8") + "```")
      const child = spawnScript(example, [])
      const stdout = await succeeded(child)
      for (const line of expected) {
        const match = line.exec(stdout)
        expect(match, `${line} in ${stdout}`).not.toBeNull()
        if (match![1] !== undefined) expect(Number(match![1])).toBe(child.pid) // the pids the kernel reported are the example's own
      }
    })
  }
})

describe("README systemd example", () => {
  it("examples/systemd.ts is in the README as printed and serves the sockets a socket activator passes it", async () => {
    const example = path.join(root, "examples/systemd.ts")
    expect(fs.readFileSync(path.join(root, "README.md"), "utf8")).toContain("```ts\n" + fs.readFileSync(example, "utf8") + "```")
    const dir = tempDir()
    const notify = `@usfp-example-notify-${process.pid}`
    const { received, service } = await Effect.runPromise(Effect.gen(function*() {
      const systemd = yield* UnixDatagram.bind({ address: notify })
      const service = spawnProgram(
        ["python3", path.join(root, "test/fixtures/socket-activate.py"), "--listen", `stream:${dir}/superd.sock:api`, "--", ...commandLine("node", example, [])],
        { env: { NOTIFY_SOCKET: notify } }
      )
      const ready = yield* systemd.receive
      const client = yield* UnixSocket.connect({ address: `${dir}/superd.sock` })
      yield* client.send("hello")
      const [reply] = yield* client.messages.pipe(Stream.take(1), Stream.runCollect)
      return { received: [new TextDecoder().decode(ready.data), Message.text(reply!)], service }
    }).pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))
    expect(received).toEqual(["READY=1\nSTATUS=serving api", "api: hello"])
    service.kill("SIGTERM")
    await service.exited
  })
})
