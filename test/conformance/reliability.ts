import { Effect, Fiber, Stream } from "effect"
import * as fc from "fast-check"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { type Connection, Fd, Message, Policy, UnixServer, UnixSocket } from "../../src/index.ts"
import { socketsAndFiles, isRoot, readProc, run, runCountingFds, spawnPeer, spawnProgram, succeeded, tempDir } from "../support/helpers.ts"
import { layer } from "../support/runtime.ts"

const encoder = new TextEncoder()

/** The README's frame header. */
const header = (length: number, fdCount: number, reserved = 0): Uint8Array => {
  const bytes = new Uint8Array(8)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, length)
  view.setUint16(4, fdCount)
  view.setUint16(6, reserved)
  return bytes
}

/** One `sendmsg` of a raw peer: bytes (at least one) and how many descriptors go with them. */
interface Write {
  readonly bytes: Uint8Array
  readonly fds: number
}

interface Plan {
  readonly frames: ReadonlyArray<{ readonly payload: string; readonly fds: number }>
  readonly writes: ReadonlyArray<Write>
  readonly mutated: boolean
}

const frameArbitrary = fc.record({ payload: fc.string({ maxLength: 40 }), fds: fc.integer({ min: 0, max: 3 }) })

/** Valid frames cut into writes at random points, each frame's descriptors on the write holding its first byte. */
const validPlan = fc.tuple(fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 12 }))
  .map(([frames, cuts]): Plan => {
    const parts: Array<Uint8Array> = []
    const starts: Array<{ at: number; fds: number }> = []
    let length = 0
    for (const frame of frames) {
      const payload = encoder.encode(frame.payload)
      starts.push({ at: length, fds: frame.fds })
      parts.push(header(payload.length, frame.fds), payload)
      length += 8 + payload.length
    }
    const stream = new Uint8Array(length)
    let offset = 0
    for (const part of parts) {
      stream.set(part, offset)
      offset += part.length
    }
    const writes: Array<Write> = []
    let at = 0
    for (let i = 0; at < length; i++) {
      const end = Math.min(length, at + cuts[i % cuts.length]!)
      const fds = starts.filter((start) => start.at >= at && start.at < end).reduce((sum, start) => sum + start.fds, 0)
      writes.push({ bytes: stream.subarray(at, end), fds })
      at = end
    }
    return { frames, writes, mutated: false }
  })

/** A valid plan broken the ways a hostile or buggy peer breaks it. */
const mutatedPlan = fc.tuple(validPlan, fc.integer({ min: 0, max: 6 }), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }))
  .map(([plan, kind, a, b, noise]): Plan => {
    const writes = [...plan.writes]
    const i = a % writes.length
    const w = writes[i]!
    switch (kind) {
      case 0: // truncated: the stream stops short, maybe inside a header
        writes.splice(i + 1)
        writes[i] = { ...w, bytes: w.bytes.subarray(0, 1 + (b % w.bytes.length)) }
        break
      case 1: // descriptors that never came
        writes[i] = { ...w, fds: 0 }
        break
      case 2: // descriptors that belong to no frame
        writes[i] = { ...w, fds: w.fds + 1 + (b % 3) }
        break
      case 3: { // a byte flipped: a length, a descriptor count, a reserved byte, or payload
        const bytes = Uint8Array.from(w.bytes)
        bytes[b % bytes.length] = bytes[b % bytes.length]! ^ (1 << (a % 8))
        writes[i] = { ...w, bytes }
        break
      }
      case 4: // a header announcing more than maxMessageBytes
        writes.splice(i, 0, { bytes: header(0x7fffffff - (b % 1000), 0), fds: 0 })
        break
      case 5: // noise before a valid stream, with descriptors
        writes.splice(0, 0, { bytes: noise, fds: b % 3 })
        break
      default: // noise at a random place
        writes.splice(i, 0, { bytes: noise, fds: 0 })
    }
    return { frames: plan.frames, writes, mutated: true }
  })

/** The errors a framed connection may end with when its peer breaks the wire format. */
const typedErrors = new Set(["ProtocolError", "MessageTooLarge", "FdLimit"])

/**
 * Connects a raw peer to `server`, plays `plan` into the accepted (framed) connection, and
 * returns what the receiver saw: each frame (its descriptors closed at once) and how reading
 * ended.
 */
const play = (server: UnixServer.UnixServer, plan: Plan, devNull: Fd) =>
  Effect.gen(function*() {
    const raw = yield* UnixSocket.connect({ address: server.address.text, framing: "raw" })
    const [framed] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
    yield* Effect.forkScoped(
      Effect.forEach(plan.writes, (w) => raw.send({ data: w.bytes, fds: Array<Fd>(w.fds).fill(devNull) }), { discard: true })
        .pipe(Effect.andThen(raw.end), Effect.ignore)
    )
    const frames: Array<{ payload: string; fds: number }> = []
    const ended = yield* framed!.messages.pipe(
      Stream.runForEach((message) =>
        Effect.sync(() => {
          frames.push({ payload: Message.text(message), fds: message.fds.length })
          for (const fd of message.fds) fd.close()
        })
      ),
      Effect.as("end of stream"),
      Effect.catch((error) => Effect.succeed(error._tag as string))
    )
    return { frames, ended, unclaimed: framed!.unclaimedFds }
  })

describe("hostile peers", () => {
  it("300 random and mutated frame streams from a raw peer: each connection ends cleanly or with a typed error, the server serves on, no descriptor leaks", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `@usfp-fuzz-${process.pid}`, limits: { maxMessageBytes: 1024 } })
      const devNull = yield* Fd.scoped(yield* Fd.open("/dev/null"))
      const outcomes = new Map<string, number>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.oneof(validPlan, mutatedPlan), async (plan) => {
            const seen = await run(play(server, plan, devNull))
            outcomes.set(seen.ended, (outcomes.get(seen.ended) ?? 0) + 1)
            expect(seen.unclaimed).toBe(0)
            if (plan.mutated) {
              expect(seen.ended === "end of stream" || typedErrors.has(seen.ended)).toBe(true)
            } else {
              expect(seen.ended).toBe("end of stream")
              expect(seen.frames).toEqual(plan.frames)
            }
          }),
          { numRuns: 300 }
        )
      )
      expect(outcomes.get("end of stream")).toBeGreaterThan(0)
      expect(outcomes.get("ProtocolError")).toBeGreaterThan(0)
      const client = yield* UnixSocket.connect({ address: server.address.text }) // still serving
      const [accepted] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      yield* client.send("still here")
      expect(Message.text((yield* accepted!.messages.pipe(Stream.take(1), Stream.runCollect))[0]!)).toBe("still here")
    })))
})

/** A raw client of `server` and the framed connection the server accepted for it. */
const rawClient = (server: UnixServer.UnixServer) =>
  Effect.gen(function*() {
    const raw = yield* UnixSocket.connect({ address: server.address.text, framing: "raw" })
    const [framed] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
    return { raw, framed: framed! }
  })

/** How many lines of `output` contain `text`. */
const linesWith = (output: string, text: string) => output.split("\n").filter((line) => line.includes(text)).length

/**
 * Waits until `read()` gives the same value three times in a row, `pause` ms apart (the
 * runtime may still be releasing an earlier child's pipes), and returns it.
 */
const settled = <A extends number | ReadonlyArray<string>>(read: () => A, pause = 200) =>
  Effect.gen(function*() {
    let value = read()
    let same = 1
    while (same < 3) {
      yield* Effect.sleep(pause)
      const now = read()
      same = String(now) === String(value) ? same + 1 : 1
      value = now
    }
    return value
  })

/** A new empty file of the test's own, to send as descriptors a test counts. */
const ownFile = (): string => {
  const file = `${tempDir()}/sent-${Math.random().toString(36).slice(2)}`
  fs.writeFileSync(file, "")
  return file
}

/** Lowers a running process's RLIMIT_NOFILE (soft and hard) to `n` descriptors. */
const limitFds = (pid: number, n: number) => execFileSync("prlimit", ["--pid", String(pid), `--nofile=${n}:${n}`])

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
const cpuSeconds = (pid: number): number => {
  const fields = readProc(`/proc/${pid}/stat`).split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100 on Linux)
}

describe("descriptor floods and limits", () => {
  it("more descriptors waiting for their frames than maxFdsInFlight end that connection with FdLimit, the excess closed at once", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `@usfp-flood-${process.pid}`, limits: { maxFdsInFlight: 300 } })
      const ownFd = yield* Fd.scoped(yield* Fd.open(ownFile())) // counted by socketsAndFiles, unlike /dev/null
      const { framed, raw } = yield* rawClient(server)
      const before = yield* settled(socketsAndFiles)
      // A header sent one byte at a time, each byte with 253 descriptors: none of them has a frame yet.
      for (let i = 0; i < 3; i++) yield* raw.send({ data: new Uint8Array(1), fds: Array<Fd>(253).fill(ownFd) })
      const error = yield* Effect.flip(Stream.runDrain(framed.messages))
      expect(error._tag).toBe("FdLimit")
      expect(error.message).toContain("limits.maxFdsInFlight")
      expect(yield* settled(socketsAndFiles)).toEqual(before) // nothing received is held, though the connection is still open
      const other = yield* rawClient(server) // the server serves on
      yield* other.raw.send(Uint8Array.of(...header(2, 0), 111, 107))
      expect(Message.text((yield* other.framed.messages.pipe(Stream.take(1), Stream.runCollect))[0]!)).toBe("ok")
    })))

  it("a compliant burst queued while the consumer is busy reaches it whole, even when one read completes frames holding 506 descriptors", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `@usfp-burst-${process.pid}` })
      const devNull = yield* Fd.scoped(yield* Fd.open("/dev/null"))
      const { framed, raw } = yield* rawClient(server)
      const fds = (n: number) => Array<Fd>(n).fill(devNull)
      for (let i = 0; i < 3; i++) yield* raw.send({ data: Uint8Array.of(...header(1, 200), 65 + i), fds: fds(200) })
      const x = Uint8Array.of(...header(1, 253), 88)
      yield* raw.send({ data: x.subarray(0, 1), fds: fds(253) }) // X's descriptors come with its first byte ...
      yield* raw.send({ data: Uint8Array.of(...x.subarray(1), ...header(1, 253), 89), fds: fds(253) }) // ... X ends with Y
      yield* raw.end
      const seen: Array<string> = []
      yield* framed.handleMessages((message) => Effect.sync(() => void seen.push(`${Message.text(message)}${message.fds.length}`)))
      expect(seen).toEqual(["A200", "B200", "C200", "X253", "Y253"])
    })))

  it("with maxFdsPerMessage: 0, descriptors waiting for a frame still count against maxFdsInFlight", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `@usfp-discard-${process.pid}`, limits: { maxFdsPerMessage: 0 } })
      const devNull = yield* Fd.scoped(yield* Fd.open("/dev/null"))
      const { framed, raw } = yield* rawClient(server)
      const big = header(1000, 0)
      for (let i = 0; i < 4; i++) yield* raw.send({ data: big.subarray(i, i + 1), fds: Array<Fd>(253).fill(devNull) })
      const error = yield* Effect.flip(Stream.runDrain(framed.messages))
      expect(error._tag).toBe("FdLimit")
      expect(error.message).toContain("limits.maxFdsInFlight")
    })))

  it("a frame with more descriptors than maxFdsPerMessage ends that connection with FdLimit; its descriptors are closed", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `@usfp-perframe-${process.pid}`, limits: { maxFdsPerMessage: 2 } })
      const ownFd = yield* Fd.scoped(yield* Fd.open(ownFile())) // counted by socketsAndFiles, unlike /dev/null
      const { framed, raw } = yield* rawClient(server)
      const before = yield* settled(socketsAndFiles)
      yield* raw.send({ data: Uint8Array.of(...header(1, 2), 97, ...header(1, 3), 98), fds: Array<Fd>(5).fill(ownFd) })
      const seen: Array<string> = []
      const error = yield* Effect.flip(framed.handleMessages((message) => Effect.sync(() => void seen.push(Message.text(message)))))
      expect(seen).toEqual(["a"])
      expect(error._tag).toBe("FdLimit")
      expect(error.message).toContain("limits.maxFdsPerMessage")
      expect(yield* settled(socketsAndFiles)).toEqual(before)
    })))

  it("253 descriptors per message at full speed flow through a consumer that closes them, with nothing left behind", () =>
    runCountingFds(Effect.gen(function*() {
      const [a, b] = yield* UnixSocket.pair("seqpacket")
      const devNull = yield* Fd.scoped(yield* Fd.open("/dev/null"))
      const total = 40
      yield* Effect.forkScoped(Effect.forEach(Array.from({ length: total }), () => a.send({ data: "x", fds: Array<Fd>(253).fill(devNull) }), { discard: true }))
      let received = 0
      yield* b.messages.pipe(Stream.take(total), Stream.runForEach((message) => Effect.sync(() => {
        received += message.fds.length
        for (const fd of message.fds) fd.close()
      })))
      expect(received).toBe(total * 253)
      expect(b.unclaimedFds).toBe(0)
    })))

  it("a receiver that cannot take all 253 descriptors (RLIMIT_NOFILE) gets ControlTruncated, and each one that did arrive is closed", () =>
    runCountingFds(Effect.gen(function*() {
      const dir = fs.realpathSync(tempDir()) // as /proc/<pid>/fd names it
      const marker = `${dir}/sent-file`
      fs.writeFileSync(marker, "")
      const server = yield* UnixServer.listen({ address: `${dir}/t.sock`, framing: "raw" })
      const child = spawnPeer("ctrunc-receiver", [server.address.text, marker])
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      yield* Effect.promise(() => child.waitFor("before="))
      limitFds(child.pid, 96) // once it runs: a runtime loading its modules needs more than this
      const file = yield* Fd.scoped(yield* Fd.open(marker))
      yield* connection!.send({ data: "more than you can take", fds: Array<Fd>(253).fill(file) })
      const stdout = yield* Effect.promise(() => succeeded(child))
      const closed = Number(/closedFds=(\d+)/.exec(stdout)?.[1])
      expect(stdout).toContain("outcome: error ControlTruncated")
      expect(closed).toBeGreaterThan(0) // some arrived (as many as fit under the limit) ...
      expect(closed).toBeLessThan(253)
      expect(stdout).toContain("before=0")
      expect(stdout).toContain("after=0") // ... and none of them is left open in the receiver
    })))
})

describe("faults", () => {
  it("out of descriptors while accepting (EMFILE), a server backs off without spinning, keeps its connections, and serves the waiting clients once descriptors free up", () =>
    runCountingFds(Effect.gen(function*() {
      const address = `${tempDir()}/e.sock`
      const child = spawnPeer("echo-counting", [address])
      yield* Effect.promise(() => child.waitFor("listening"))
      limitFds(child.pid, 64) // once it runs: a runtime loading its modules needs more than this
      const accepted = () => linesWith(child.output(), "accepted ")
      const clients: Array<{ connection: Connection.Connection; echo: Fiber.Fiber<string, unknown> }> = []
      const open = Effect.gen(function*() {
        const connection = yield* UnixSocket.connect({ address })
        yield* connection.send(`ping ${clients.length}`)
        const echo = yield* Effect.forkScoped(connection.messages.pipe(Stream.take(1), Stream.runCollect, Effect.map(([m]) => Message.text(m!))))
        clients.push({ connection, echo })
      })
      // Open clients in batches until the server stops taking them all, then ten more.
      while ((yield* settled(accepted)) === clients.length) for (let i = 0; i < 10; i++) yield* open
      for (let i = 0; i < 10; i++) yield* open
      const taken = yield* settled(accepted)
      expect(taken).toBeLessThan(clients.length)
      const cpuBefore = cpuSeconds(child.pid)
      yield* Effect.sleep(2000)
      const cpu = cpuSeconds(child.pid) - cpuBefore
      expect(cpu).toBeLessThan(0.5) // backing off, not spinning on accept (a busy loop burns ~2 s here)
      expect(yield* Fiber.join(clients[0]!.echo)).toBe("ping 0")
      yield* clients[0]!.connection.send("still served while out of descriptors")
      expect(Message.text((yield* clients[0]!.connection.messages.pipe(Stream.take(1), Stream.runCollect))[0]!)).toBe("still served while out of descriptors")
      for (const client of clients.slice(1, taken)) yield* client.connection.close // free descriptors in the server
      for (const [i, client] of clients.entries()) {
        if (i >= taken) expect(yield* Fiber.join(client.echo)).toBe(`ping ${i}`) // the waiting clients are served
      }
      child.kill("SIGTERM")
      yield* Effect.promise(() => child.exited)
    })))
})

describe("faults: peers that die", () => {
  it("twenty peers SIGKILLed mid-frame: each ends only its own connection, with ProtocolError, and the server's descriptors return to their count", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/k.sock` })
      const outcomes: Array<string> = []
      yield* Effect.forkScoped(server.serve((connection) =>
        connection.handleMessages((message) => connection.send(message.data)).pipe(
          Effect.catch((error) => Effect.sync(() => void outcomes.push(error._tag)))
        )
      ))
      const before = yield* settled(socketsAndFiles)
      // One Python process forks twenty children; each connects, writes half a frame, and kills itself.
      const killer = spawnProgram(["python3", "-c", KILL_MID_FRAME, server.address.text, "20"])
      expect(yield* Effect.promise(() => succeeded(killer))).toContain("killed 20")
      while (outcomes.length < 20) yield* Effect.sleep(20)
      expect(outcomes).toEqual(Array(20).fill("ProtocolError"))
      const client = yield* UnixSocket.connect({ address: server.address.text })
      yield* client.send("the server serves on")
      expect(Message.text((yield* client.messages.pipe(Stream.take(1), Stream.runCollect))[0]!)).toBe("the server serves on")
      yield* client.close
      expect(yield* settled(socketsAndFiles)).toEqual(before)
    })))

  it("the reading side vanishes while a large send is blocked: send fails with Closed, nothing hangs", () =>
    runCountingFds(Effect.gen(function*() {
      const [sender, reader] = yield* UnixSocket.pair("stream")
      const blocked = yield* Effect.forkScoped(sender.send(new Uint8Array(32 * 1024 * 1024)))
      yield* Effect.sleep(50)
      expect(blocked.pollUnsafe()).toBeUndefined() // waiting for the reader
      yield* reader.close
      const error = yield* Effect.flip(Fiber.join(blocked))
      expect(error._tag).toBe("Closed")

      const server = yield* UnixServer.listen({ address: `${tempDir()}/v.sock` })
      const peer = spawnPeer("linger", [server.address.text]) // connects and never reads
      const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
      const stuck = yield* Effect.forkScoped(connection!.send(new Uint8Array(32 * 1024 * 1024)))
      yield* Effect.promise(() => peer.waitFor("connected"))
      peer.kill("SIGKILL")
      expect((yield* Effect.flip(Fiber.join(stuck)))._tag).toBe("Closed")
    })))

  it("a process whose scope closes with a send still pending exits by itself, cleanly", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `${tempDir()}/p.sock` })
      const peer = spawnPeer("pending-send", [server.address.text])
      yield* server.connections.pipe(Stream.take(1), Stream.runCollect) // accepted, never read
      const exit = yield* Effect.promise(() => peer.exited)
      expect(exit.stdout).toContain("a send is pending; closing the scope")
      expect([exit.code, exit.signal, exit.stderr]).toEqual([0, null, ""])
    })))
})

describe("load", () => {
  it("50 concurrent clients × 200 messages: every message arrives exactly once, in order per connection", () =>
    runCountingFds(Effect.gen(function*() {
      const server = yield* UnixServer.listen({ address: `@usfp-load-${process.pid}` })
      const seen = new Map<number, Array<number>>()
      yield* Effect.forkScoped(server.serve((connection) =>
        connection.handleMessages((message) =>
          Effect.sync(() => {
            const [client, sequence] = Message.text(message).split(":").map(Number) as [number, number]
            seen.set(client, [...(seen.get(client) ?? []), sequence])
          }).pipe(Effect.andThen(connection.send(message.data)))
        )
      ))
      yield* Effect.forEach(Array.from({ length: 50 }, (_, c) => c), (c) =>
        Effect.gen(function*() {
          const client = yield* UnixSocket.connect({ address: server.address.text })
          yield* Effect.forkScoped(Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => client.send(`${c}:${i}`), { discard: true }))
          const echoes = yield* client.messages.pipe(Stream.take(200), Stream.map(Message.text), Stream.runCollect)
          expect(echoes).toEqual(Array.from({ length: 200 }, (_, i) => `${c}:${i}`))
        }).pipe(Effect.scoped), { concurrency: "unbounded", discard: true })
      expect(seen.size).toBe(50)
      for (const sequences of seen.values()) expect(sequences).toEqual(Array.from({ length: 200 }, (_, i) => i))
    })))
})

describe("security", () => {
  if (isRoot) {
    it("descriptors a refused peer sent before it was refused are closed, never delivered", () =>
      runCountingFds(Effect.gen(function*() {
        const server = yield* UnixServer.listen({ address: `${tempDir()}/r.sock`, mode: 0o666 })
        const delivered: Array<number> = []
        yield* Effect.forkScoped(server.serve((connection) => connection.handleMessages((m) => Effect.sync(() => void delivered.push(m.fds.length)))))
        const intruder = spawnPeer("send-writer", [server.address.text], { uid: 65534 })
        // The intruder kept the pipe's read end: it reads to the end only once the write end it sent is closed.
        expect(yield* Effect.promise(() => succeeded(intruder))).toContain("the pipe's last write end was closed")
        expect(server.rejected).toBe(1)
        expect(delivered).toEqual([])
      })))

    it("mode is in force from the moment the socket file exists: another uid hammering the path never reaches a 0600 socket", () =>
      Effect.runPromise(Effect.gen(function*() {
        const dir = tempDir()
        const path = `${dir}/m.sock`
        const hammer = spawnPeer("hammer", [path, `${dir}/stop`], { uid: 65534 })
        yield* Effect.promise(() => hammer.waitFor("hammering"))
        // umask 000: were the mode applied after bind, the file would exist for a moment as 0777.
        const cycler = spawnPeer("listen-cycle", [path, "2000"], { umask: "000" })
        const cycles = Number(/cycles (\d+)/.exec(yield* Effect.promise(() => succeeded(cycler)))?.[1])
        fs.writeFileSync(`${dir}/stop`, "")
        const outcomes = yield* Effect.promise(() => succeeded(hammer))
        expect(cycles).toBeGreaterThan(10)
        expect(outcomes).toContain("PermissionDenied=") // it did find the socket file, often ...
        // ... and never got past its mode: no connection, not even a refusal from a socket not listening yet
        expect(outcomes).toMatch(/^outcomes: (AddressNotFound=\d+ )?PermissionDenied=\d+$/m)

        fs.rmSync(`${dir}/stop`)
        const control = spawnPeer("hammer", [path, `${dir}/stop`], { uid: 65534 }) // with mode 0666 it does connect
        yield* Effect.gen(function*() {
          const server = yield* UnixServer.listen({ address: path, mode: 0o666, authorize: Policy.allowAll })
          yield* Effect.forkScoped(server.serve(() => Effect.void)) // accept (and close) to keep the backlog free
          yield* Effect.promise(() => control.waitFor("first connected"))
          fs.writeFileSync(`${dir}/stop`, "")
          expect(yield* Effect.promise(() => succeeded(control))).toContain("connected=")
        }).pipe(Effect.scoped, Effect.provide(layer))
      })))
  }

  it("a directory others could use to replace the socket is refused (PermissionDenied), unless trusted explicitly", () =>
    runCountingFds(Effect.gen(function*() {
      const open = tempDir()
      fs.chmodSync(open, 0o777)
      const refused = yield* Effect.flip(UnixServer.listen({ address: `${open}/s.sock` }))
      expect(refused._tag).toBe("PermissionDenied")
      expect(refused.message).toContain(`the directory ${open} (mode 0777) is writable by everyone and has no sticky bit`)
      expect(fs.existsSync(`${open}/s.sock`)).toBe(false)
      yield* UnixServer.listen({ address: `${open}/s.sock`, trustDirectory: true })
      const sticky = tempDir()
      fs.chmodSync(sticky, 0o1777) // as /tmp: others may not remove our file
      yield* UnixServer.listen({ address: `${sticky}/s.sock` })
      if (isRoot) {
        const foreign = tempDir()
        fs.chownSync(foreign, 65534, 65534)
        const owned = yield* Effect.flip(UnixServer.listen({ address: `${foreign}/s.sock` }))
        expect(owned.message).toContain("is owned by uid 65534")
      }
    })))
})

/** Python: fork `n` children that each connect to `argv[1]`, write half a frame, and SIGKILL themselves. */
const KILL_MID_FRAME = `
import os, signal, socket, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(struct.pack(">IHH", 100, 0, 0) + b"only part of it")
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
print("killed", n)
`
