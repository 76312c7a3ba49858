/**
 * The usocket contender: usocket@1.1.0 from npm under Node.js, a native addon with descriptor
 * passing (no peer credentials, STREAM only). It is no dependency of this package: the runner
 * installs it into bench/.build/usocket, and this file loads it from there. Messages are raw
 * bytes (usocket has no framing): latency echoes 64 bytes, throughput sends 64 KiB writes, the
 * fds workload sends `size` bytes with `fds` descriptors per message and reads each back with
 * `read(size, fds)`, its documented way of taking bytes and descriptors together.
 *
 *   node --expose-gc --import tsx bench/usocket.ts <server|client> <workload> <socket path> key=value...
 */
import { once } from "node:events"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import { fileURLToPath } from "node:url"
import { finish, onEchoes, type Options, printReady, Repeats, runContender } from "./contender.ts"

/** The part of usocket's API used here (it ships no types). */
interface USocket extends Omit<Duplex, "read" | "write"> {
  /** With a descriptor count: `size` bytes and `count` descriptors, or null until both arrived. */
  read(size: number, count: number): { readonly data: Buffer; readonly fds: Array<number> } | null
  /** Returns nothing (not the usual backpressure boolean): the callback says when the kernel took it. */
  write(chunk: Buffer | { readonly data?: Buffer; readonly fds?: ReadonlyArray<number> }, callback?: () => void): void
}

interface UServer {
  listen(path: string, backlog: number, callback: () => void): void
  on(event: "connection", listener: (socket: USocket) => void): this
}

interface USocketModule {
  readonly USocket: new(options: { readonly path: string }) => USocket
  readonly UServer: new() => UServer
}

// bench/, or bench/.build/ when the bench runs its compiled build (bench/run.ts).
const here = path.dirname(fileURLToPath(import.meta.url))
const buildDir = path.basename(here) === ".build" ? here : path.join(here, ".build")
const usocket = createRequire(path.join(buildDir, "usocket/node_modules/"))("usocket") as USocketModule

const ACK = Buffer.from([107])

// ---------------------------------------------------------------------------------------
// Servers

const echo = (socket: USocket) => socket.on("data", (chunk: Buffer) => socket.write(chunk))

const sink = (options: Options) => (socket: USocket) => {
  const every = options.batch * options.size
  let received = 0
  let next = every
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length
    for (; received >= next; next += every) socket.write(ACK)
  })
}

/** Takes each message's bytes and descriptors together, closes the descriptors, acknowledges. */
const fdSink = (options: Options) => (socket: USocket) => {
  let received = 0
  socket.on("readable", () => {
    for (let message = socket.read(options.size, options.fds); message !== null; message = socket.read(options.size, options.fds)) {
      for (const fd of message.fds) fs.closeSync(fd)
      if (++received % options.batch === 0) socket.write(ACK)
    }
  })
}

const server = (options: Options) => {
  const handler = options.workload === "throughput" ? sink(options) : options.workload === "fds" ? fdSink(options) : echo
  const listener = new usocket.UServer()
  listener.on("connection", (socket) => {
    socket.on("error", () => socket.destroy()) // a client gone at the end of its run
    handler(socket)
  })
  listener.listen(options.address, 511, printReady)
}

// ---------------------------------------------------------------------------------------
// Clients

const connect = async (address: string): Promise<USocket> => {
  const socket = new usocket.USocket({ path: address })
  await once(socket, "connected")
  return socket
}

const latencyClient = async (options: Options) => {
  const socket = await connect(options.address)
  const payload = Buffer.alloc(options.size)
  const repeats = new Repeats(options)
  socket.on(
    "data",
    onEchoes(options.size, () => {
      if (!repeats.record(1)) finish({ repeats: repeats.results })
      socket.write(payload)
    })
  )
  repeats.start()
  socket.write(payload)
}

/**
 * throughput and fds: `batch` messages, then the acknowledgement. usocket's `write` returns no
 * backpressure flag, so each write waits for its callback (the kernel took it), as the SDK's
 * `send` does.
 */
const batchClient = async (options: Options) => {
  const socket = await connect(options.address)
  const fds = options.workload === "fds" ? Array.from({ length: options.fds }, () => fs.openSync("/dev/null", "r")) : []
  const message = fds.length > 0 ? { data: Buffer.alloc(options.size), fds } : Buffer.alloc(options.size)
  let acks = 0
  let waiting: (() => void) | undefined
  socket.on("data", (chunk: Buffer) => {
    acks += chunk.length
    waiting?.()
  })
  const repeats = new Repeats(options)
  repeats.start()
  do {
    for (let i = 0; i < options.batch; i++) await new Promise<void>((resolve) => socket.write(message, resolve))
    while (acks === 0) await new Promise<void>((resolve) => (waiting = resolve))
    acks--
  } while (repeats.record(options.batch))
  finish({ repeats: repeats.results })
}

runContender("usocket", server, { latency: latencyClient, throughput: batchClient, fds: batchClient })
