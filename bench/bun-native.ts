/**
 * The Bun contender: Bun's own socket API, `Bun.listen` / `Bun.connect` with `unix:`. Bytes
 * only: latency (STREAM), throughput, concurrent and memory workloads, payload bytes without
 * a frame header.
 *
 *   bun bench/bun-native.ts <server|client> <workload> <socket path> key=value...
 */
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

/** The part of Bun's socket API used here (Node's types do not declare Bun). */
interface BunSocket<Data> {
  data: Data
  /** Bytes written now (fewer than given when the kernel buffer is full), -1 if closed. */
  write(bytes: Uint8Array | string): number
  end(): void
}

interface BunHandlers<Data> {
  open?(socket: BunSocket<Data>): void
  data?(socket: BunSocket<Data>, bytes: Uint8Array): void
  drain?(socket: BunSocket<Data>): void
  close?(socket: BunSocket<Data>): void
  error?(socket: BunSocket<Data>, error: Error): void
}

declare const Bun: {
  listen<Data>(options: { unix: string; socket: BunHandlers<Data> }): { stop(): void }
  connect<Data>(options: { unix: string; socket: BunHandlers<Data>; data?: Data }): Promise<BunSocket<Data>>
}

const ACK = new Uint8Array([107])

/**
 * What each socket carries: the bytes a full kernel buffer refused (written again on 'drain')
 * and the callback of whoever waits for them to go, and what it does with incoming bytes.
 */
class Conn {
  pending: Uint8Array | undefined
  drained: (() => void) | undefined
  onData: (bytes: Uint8Array) => void = () => {}
}

/** Writes all of `bytes`, resolving at once if the kernel took them, or once they drained. */
const write = (socket: BunSocket<Conn>, bytes: Uint8Array): Promise<void> | undefined => {
  const written = socket.write(bytes)
  if (written === bytes.length) return undefined
  // Bun may reuse a received buffer once its callback returns: keep a copy of the rest.
  socket.data.pending = bytes.slice(Math.max(written, 0))
  return new Promise((resolve) => (socket.data.drained = resolve))
}

const handlers: BunHandlers<Conn> = {
  data: (socket, bytes) => socket.data.onData(bytes),
  drain: (socket) => {
    const pending = socket.data.pending
    if (pending === undefined) return
    const written = socket.write(pending)
    if (written < pending.length) {
      socket.data.pending = pending.subarray(Math.max(written, 0))
      return
    }
    socket.data.pending = undefined
    const drained = socket.data.drained
    socket.data.drained = undefined
    drained?.()
  }
}

// ---------------------------------------------------------------------------------------
// Servers

const server = (options: Options) => {
  // Memory workloads: a connection that starts with "M" is the control connection.
  const memory = memoryServer<BunSocket<Conn>>(options, (socket, line) => socket.write(line))
  const every = options.batch * options.size
  const serve = (socket: BunSocket<Conn>) => {
    const conn = socket.data
    switch (options.workload) {
      case "latency":
      case "concurrent":
        conn.onData = (chunk) => void write(socket, chunk)
        return
      case "throughput": {
        let received = 0
        let next = every
        conn.onData = (chunk) => {
          received += chunk.length
          for (; received >= next; next += every) socket.write(ACK)
        }
        return
      }
      default:
        conn.onData = memory(socket)
    }
  }
  Bun.listen<Conn>({
    unix: options.address,
    socket: {
      ...handlers,
      open: (socket) => {
        socket.data = new Conn()
        serve(socket)
      },
      error: () => {} // a client gone at the end of its run
    }
  })
  printReady()
}

// ---------------------------------------------------------------------------------------
// Clients

// Bun reports a full listen backlog as ECONNREFUSED (the socket file is there and listening).
const connect = (address: string): Promise<BunSocket<Conn>> =>
  connectWithRetry(() => Bun.connect({ unix: address, socket: handlers, data: new Conn() }), ["EAGAIN", "ECONNREFUSED"])

const latencyClient = async (options: Options) => {
  const socket = await connect(options.address)
  const payload = new Uint8Array(options.size)
  const repeats = new Repeats(options)
  socket.data.onData = onEchoes(options.size, () => {
    if (!repeats.record(1)) finish({ repeats: repeats.results })
    socket.write(payload)
  })
  repeats.start()
  socket.write(payload)
}

const throughputClient = async (options: Options) => {
  const socket = await connect(options.address)
  const payload = new Uint8Array(options.size)
  const ack = replies(1, (receive) => (socket.data.onData = receive))
  const repeats = new Repeats(options)
  repeats.start()
  do {
    for (let i = 0; i < options.batch; i++) await write(socket, payload)
    await ack()
  } while (repeats.record(options.batch))
  finish({ repeats: repeats.results })
}

const concurrentClient = async (options: Options) => {
  const sockets: Array<BunSocket<Conn>> = []
  for (let i = 0; i < options.conns; i++) sockets.push(await connect(options.address))
  const payload = new Uint8Array(options.size)
  const repeats = new Repeats(options, true)
  const sentAt = new Float64Array(options.conns)
  sockets.forEach((socket, i) => {
    socket.data.onData = onEchoes(options.size, () => {
      repeats.latency((performance.now() - sentAt[i]!) * 1000)
      if (!repeats.record(1)) finish({ repeats: repeats.results })
      sentAt[i] = performance.now()
      socket.write(payload)
    })
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
  const payload = new Uint8Array(options.size)
  await memorySteps(options, {
    measure: controlChannel((line) => control.write(line), (answers) => (control.data.onData = answers.push)),
    open: () => connect(options.address),
    send: (data) => write(data, payload)
  })
}

runContender("bun-native", server, { latency: latencyClient, throughput: throughputClient, concurrent: concurrentClient, idle: memoryClient, messages: memoryClient })
