import { Effect, Stream } from "effect"
import * as path from "node:path"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { Message, Systemd, UnixDatagram, UnixSocket } from "../../src/index.ts"
import { root, runCountingFds, spawnPeer, spawnProgram, succeeded, tempDir } from "../support/helpers.ts"
import { commandLine, runtime } from "../support/runtime.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("systemd", () => {
  it("socket activation: fromListenFds adopts the sockets passed as systemd passes them, by name, and clears LISTEN_*", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = tempDir()
      const service = spawnProgram([
        "python3", path.join(root, "test/fixtures/socket-activate.py"),
        "--listen", `stream:${dir}/api.sock:api`,
        "--listen", `seqpacket:${dir}/admin.sock:admin`,
        "--", ...commandLine(runtime, path.join(root, "test/fixtures/peer.ts"), ["activated"])
      ])
      yield* Effect.promise(() => service.waitFor("environment after"))
      expect(service.output()).toContain(`adopted api stream ${dir}/api.sock fd=3`)
      expect(service.output()).toContain(`adopted admin seqpacket ${dir}/admin.sock fd=4`)
      expect(service.output()).toContain("environment after: - - -")
      for (const [name, type] of [["api", "stream"], ["admin", "seqpacket"]] as const) {
        const client = yield* UnixSocket.connect({ address: `${dir}/${name}.sock`, type })
        expect(client.peer.pid).toBe(service.pid) // the activated program itself, not the launcher
        yield* client.send("hello")
        const [reply] = yield* client.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(Message.text(reply!)).toBe(`${name} got hello`)
      }
      yield* Effect.promise(() => succeeded(service))
    })))

  it("notify sends READY and STATUS, and descriptors for the store, to NOTIFY_SOCKET (abstract or path); without it, nothing", () =>
    runCountingFds(Effect.gen(function*() {
      for (const address of [`@usfp-notify-${process.pid}`, `${tempDir()}/notify.sock`]) {
        const systemd = yield* UnixDatagram.bind({ address, passCredentials: true })
        const service = spawnPeer("notify", [], { env: { NOTIFY_SOCKET: address } })
        const ready = yield* systemd.receive
        expect(text(ready.data)).toBe("READY=1\nSTATUS=serving")
        expect(ready.credentials?.pid).toBe(service.pid)
        const stored = yield* systemd.receive
        expect(text(stored.data)).toBe("FDSTORE=1\nFDNAME=pipe")
        expect(stored.fds).toHaveLength(1)
        using fd = stored.fds[0]!
        expect(text(fd.readAll())).toBe("kept by systemd")
        const stdout = yield* Effect.promise(() => succeeded(service))
        expect(stdout).toContain("ready sent: true")
        expect(stdout).toContain("newline: ProtocolError")
      }
      delete process.env.NOTIFY_SOCKET // in case the tests themselves run under systemd
      expect(yield* Systemd.notify({ READY: 1 })).toBe(false) // not under systemd: nothing sent
    })))
})
