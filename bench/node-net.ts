/**
 * The node:net contender: Node.js's own Unix socket API on a socket path. Bytes only (no
 * descriptors, no peer credentials): it runs the latency (STREAM), throughput, concurrent and
 * memory workloads, sending the payload bytes without a frame header.
 *
 *   node --expose-gc --import tsx bench/node-net.ts <server|client> <workload> <socket path> key=value...
 */
import { once } from "node:events"
import * as net from "node:net"
import {
  connectWithRetry,
  finish,
  controlChannel,
  memoryServer,
  memorySteps,
  onEchoes,
  type Options,
  printReady,
  Repeats,
  replies,
  runContender
} from "./contender.ts"

const ACK = Buffer.from([107])

// ---------------------------------------------------------------------------------------
// Servers

const echo = (socket: net.Socket) => socket.on("data", (chunk) => socket.write(chunk))

/** Acknowledges every `batch` messages' worth of bytes (throughput). */
const sink = (options: Options) => (socket: net.Socket) => {
  const every = options.batch * options.size
  let received = 0
  let next = every
  socket.on("data", (chunk) => {
    received += chunk.length
    for (; received >= next; next += every) socket.write(ACK)
  })
}

/** Memory workloads: a connection that starts with "M" is the control connection. */
const memory = (options: Options) => {
  const receiver = memoryServer<net.Socket>(options, (socket, line) => socket.write(line))
  return (socket: net.Socket) => socket.on("data", receiver(socket))
}

const server = (options: Options) => {
  const handler = options.workload === "throughput"
    ? sink(options)
    : options.workload === "idle" || options.workload === "messages"
    ? memory(options)
    : echo
  const listener = net.createServer((socket) => {
    socket.on("error", () => socket.destroy()) // a client gone at the end of its run
    handler(socket)
  })
  listener.listen(options.address, printReady)
}

// ---------------------------------------------------------------------------------------
// Clients

const connect = (address: string): Promise<net.Socket> =>
  connectWithRetry(async () => {
    const socket = net.connect(address)
    try {
      await once(socket, "connect")
      return socket
    } catch (error) {
      socket.destroy()
      throw error
    }
  })

/** Writes `bytes`, waiting for 'drain' when Node's buffer is over its high-water mark. */
const write = async (socket: net.Socket, bytes: Uint8Array): Promise<void> => {
  if (!socket.write(bytes)) await once(socket, "drain")
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

const throughputClient = async (options: Options) => {
  const socket = await connect(options.address)
  const payload = Buffer.alloc(options.size)
  const ack = replies(1, (receive) => socket.on("data", receive))
  const repeats = new Repeats(options)
  repeats.start()
  do {
    for (let i = 0; i < options.batch; i++) await write(socket, payload)
    await ack()
  } while (repeats.record(options.batch))
  finish({ repeats: repeats.results })
}

const concurrentClient = async (options: Options) => {
  const sockets: Array<net.Socket> = []
  for (let i = 0; i < options.conns; i++) sockets.push(await connect(options.address))
  const payload = Buffer.alloc(options.size)
  const repeats = new Repeats(options, true)
  const sentAt = new Float64Array(options.conns)
  sockets.forEach((socket, i) => {
    socket.on(
      "data",
      onEchoes(options.size, () => {
        const now = performance.now()
        repeats.latency((now - sentAt[i]!) * 1000)
        if (!repeats.record(1)) finish({ repeats: repeats.results })
        sentAt[i] = performance.now()
        socket.write(payload)
      })
    )
  })
  repeats.start()
  sockets.forEach((socket, i) => { // round robin: one request on each connection
    sentAt[i] = performance.now()
    socket.write(payload)
  })
}

/** idle and messages: open connections or send messages in steps, sampling the server at each. */
const memoryClient = async (options: Options) => {
  const control = await connect(options.address)
  const payload = Buffer.alloc(options.size)
  await memorySteps(options, {
    measure: controlChannel((line) => control.write(line), (answers) => control.on("data", answers.push)),
    open: () => connect(options.address),
    send: (data) => write(data, payload)
  })
}

runContender("node-net", server, { latency: latencyClient, throughput: throughputClient, concurrent: concurrentClient, idle: memoryClient, messages: memoryClient })
