/**
 * The Deno contender: Deno's own socket API, `Deno.listen` / `Deno.connect` with
 * `transport: "unix"`. Bytes only: latency (STREAM), throughput, concurrent and memory
 * workloads, payload bytes without a frame header.
 *
 *   deno run --allow-read --allow-write … bench/deno-native.ts <server|client> <workload> <socket path> key=value...
 */
import {
  connectWithRetry,
  fail,
  finish,
  controlChannel,
  type LineSplitter,
  memoryServer,
  memorySteps,
  type Options,
  printReady,
  Repeats,
  runContender
} from "./contender.ts"

/** The part of Deno's socket API used here (Node's types do not declare Deno). */
interface DenoConn {
  /** Bytes read into `buffer`, or null at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>
  /** Bytes written (possibly fewer than given). */
  write(bytes: Uint8Array): Promise<number>
  close(): void
}

declare const Deno: {
  listen(options: { transport: "unix"; path: string }): AsyncIterable<DenoConn>
  connect(options: { transport: "unix"; path: string }): Promise<DenoConn>
}

const ACK = new Uint8Array([107])
const READ_BYTES = 256 * 1024

const writeAll = async (conn: DenoConn, bytes: Uint8Array): Promise<void> => {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset))
}

/** Reads until `count` more bytes have arrived (one reply of that size), or end of stream. */
const reader = (conn: DenoConn) => {
  const buffer = new Uint8Array(READ_BYTES)
  let have = 0
  return async (count: number): Promise<boolean> => {
    while (have < count) {
      const n = await conn.read(buffer)
      if (n === null) return false
      have += n
    }
    have -= count
    return true
  }
}

// ---------------------------------------------------------------------------------------
// Servers

/** Serves one connection until it ends; a client gone at the end of its run is no error. */
const serveOne = async (conn: DenoConn, serve: (conn: DenoConn) => Promise<void>) => {
  try {
    await serve(conn)
  } catch (error) {
    const name = (error as Error).name
    if (name !== "ConnectionReset" && name !== "BrokenPipe") console.error("deno-native server:", error)
  } finally {
    conn.close()
  }
}

const echo = async (conn: DenoConn) => {
  const buffer = new Uint8Array(READ_BYTES)
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) await writeAll(conn, buffer.subarray(0, n))
}

const sink = (options: Options) => async (conn: DenoConn) => {
  const buffer = new Uint8Array(READ_BYTES)
  const every = options.batch * options.size
  let received = 0
  let next = every
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
    received += n
    for (; received >= next; next += every) await writeAll(conn, ACK)
  }
}

/** Memory workloads: a connection that starts with "M" is the control connection. */
const memory = (options: Options) => {
  const receiver = memoryServer<DenoConn>(options, (conn, line) => writeAll(conn, new TextEncoder().encode(line)))
  return async (conn: DenoConn) => {
    const receive = receiver(conn)
    const buffer = new Uint8Array(options.workload === "idle" ? 64 : READ_BYTES)
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) receive(buffer, n)
  }
}

const server = async (options: Options) => {
  const serve = options.workload === "throughput"
    ? sink(options)
    : options.workload === "idle" || options.workload === "messages"
    ? memory(options)
    : echo
  const listener = Deno.listen({ transport: "unix", path: options.address })
  printReady()
  for await (const conn of listener) void serveOne(conn, serve)
}

// ---------------------------------------------------------------------------------------
// Clients

const connect = (address: string): Promise<DenoConn> =>
  connectWithRetry(() => Deno.connect({ transport: "unix", path: address }), ["EAGAIN", "WouldBlock"])

/** One connection: round trips (latency), or batches then an acknowledgement (throughput). */
const oneConnection = async (options: Options) => {
  const conn = await connect(options.address)
  const read = reader(conn)
  const payload = new Uint8Array(options.size)
  const repeats = new Repeats(options)
  repeats.start()
  if (options.workload === "latency") {
    do {
      await writeAll(conn, payload)
      await read(options.size)
    } while (repeats.record(1))
  } else {
    do {
      for (let i = 0; i < options.batch; i++) await writeAll(conn, payload)
      await read(1)
    } while (repeats.record(options.batch))
  }
  finish({ repeats: repeats.results })
}

const concurrentClient = async (options: Options) => {
  const conns: Array<DenoConn> = []
  for (let i = 0; i < options.conns; i++) conns.push(await connect(options.address))
  const payload = new Uint8Array(options.size)
  const repeats = new Repeats(options, true)
  const worker = async (conn: DenoConn) => {
    const read = reader(conn)
    for (;;) {
      const sent = performance.now()
      await writeAll(conn, payload)
      await read(options.size)
      repeats.latency((performance.now() - sent) * 1000)
      if (!repeats.record(1)) finish({ repeats: repeats.results })
    }
  }
  repeats.start()
  await Promise.all(conns.map(worker)) // each starts by sending: one request per connection, in turn
}

/** Hands what `conn` receives to `lines` until it ends. */
const readLines = async (conn: DenoConn, lines: LineSplitter) => {
  const buffer = new Uint8Array(4096)
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) lines.push(buffer.subarray(0, n))
  lines.end()
}

/** idle and messages: open connections or send messages in steps, sampling the server at each. */
const memoryClient = async (options: Options) => {
  const control = await connect(options.address)
  const payload = new Uint8Array(options.size)
  await memorySteps(options, {
    measure: controlChannel(
      (line) => writeAll(control, new TextEncoder().encode(line)),
      (answers) => void readLines(control, answers).catch(fail("deno-native", options))
    ),
    open: () => connect(options.address),
    send: (data) => writeAll(data, payload)
  })
}

runContender("deno-native", server, { latency: oneConnection, throughput: oneConnection, concurrent: concurrentClient, idle: memoryClient, messages: memoryClient })
