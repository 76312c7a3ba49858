/**
 * What every TypeScript contender process shares (Node.js, Bun and Deno run these alike): its
 * command line, the process protocol, the time-boxed repeats and the memory samples; and for
 * the byte-stream contenders (node:net, Bun, Deno, usocket) the glue around their timed loops:
 * the client's start-up and dispatch, reply counting, the control connection's lines, the
 * memory workloads' step loop and server.
 *
 *   <runtime> bench/<contender>.ts <server|client> <workload> <socket path> key=value...
 *
 * A server prints {"ready":true} once it listens and serves until it is killed. A client
 * prints {"ready":true} once loaded, waits for one line on stdin (the runner sends it when the
 * server is ready, so both start up at the same time), runs, prints its result as one JSON
 * line and exits: {"repeats":[{ops, ms, p50?, p99?}, …]} for timed workloads.
 *
 * Memory workloads are measured from outside, by the runner reading /proc/<server pid>: the
 * process measured cannot hide anything, and Deno may not read /proc without --allow-all. At
 * each step the client asks the server (on a control connection) to collect its garbage once
 * it has accepted and received what the step sent; on the answer the client prints
 * {"sample": at} and waits for the runner's line on stdin (the server sits idle meanwhile);
 * at the end it prints {"done":true}.
 */
import process from "node:process"

export type Workload = "latency" | "throughput" | "fds" | "accept" | "concurrent" | "idle" | "messages"

export interface Options {
  readonly role: "server" | "client"
  readonly workload: Workload
  readonly address: string
  readonly type: "stream" | "seqpacket"
  /** Payload bytes per message. */
  readonly size: number
  /** Descriptors per message (fds workload). */
  readonly fds: number
  /** Messages per acknowledgement (throughput, fds). */
  readonly batch: number
  /** Connections in flight (accept). */
  readonly window: number
  /** Connections (concurrent, idle). */
  readonly conns: number
  /** Messages in all (messages). */
  readonly count: number
  /** Measurement steps (idle, messages). */
  readonly steps: number
  /** Milliseconds of warm-up, of one repeat, and how many repeats. */
  readonly warmup: number
  readonly repeat: number
  readonly repeats: number
}

/** The options given on the command line (after the script). */
export const parseOptions = (argv: ReadonlyArray<string> = process.argv.slice(2)): Options => {
  const [role, workload, address, ...rest] = argv
  if ((role !== "server" && role !== "client") || workload === undefined || address === undefined) {
    throw new Error(`usage: <contender> <server|client> <workload> <socket path> key=value... (got ${argv.join(" ")})`)
  }
  const values = new Map(rest.map((pair) => pair.split("=", 2) as [string, string]))
  const number = (key: string, fallback: number): number => {
    const value = values.get(key)
    return value === undefined ? fallback : Number(value)
  }
  return {
    role,
    workload: workload as Workload,
    address,
    type: values.get("type") === "seqpacket" ? "seqpacket" : "stream",
    size: number("size", 64),
    fds: number("fds", 1),
    batch: number("batch", 1),
    window: number("window", 1),
    conns: number("conns", 1),
    count: number("count", 0),
    steps: number("steps", 1),
    warmup: number("warmup", 0),
    repeat: number("repeat", 0),
    repeats: number("repeats", 1)
  }
}

/** One line of the process protocol on stdout. */
export const printLine = (value: unknown): void => {
  console.log(JSON.stringify(value))
}

export const printReady = (): void => printLine({ ready: true })

/** Lines the runner writes to stdin, in order (split once something asks for one). */
let stdinLines: LineSplitter | undefined

/** The next line on stdin (the runner's "go", or its answer to a sample). */
export const nextLine = (): Promise<string> => {
  if (stdinLines === undefined) {
    stdinLines = lineSplitter()
    process.stdin.on("data", stdinLines.push)
    process.stdin.on("end", () => {
      console.error("stdin closed: the runner is gone")
      process.exit(1)
    })
  }
  return stdinLines.next()
}

/** Resolves at the runner's "go": the server is ready. */
export const waitForGo = async (): Promise<void> => {
  await nextLine()
}

/** Memory workloads: lets the runner measure the server now, at `at` connections or messages. */
export const sample = async (at: number): Promise<void> => {
  printLine({ sample: at })
  await nextLine()
}

/** Prints the client's result and ends the process (open handles must not keep it alive). */
export const finish = (result: unknown): never => {
  printLine(result)
  process.exit(0)
}

/** Ends the process after an error of `label`'s server or client (the runner reports it failed). */
export const fail = (label: string, options: Options) => (error: unknown): never => {
  console.error(`${label} ${options.role} ${options.workload}:`, error)
  process.exit(1)
}

/** A contender's client for each workload it runs. */
export type Clients = Partial<Record<Workload, (options: Options) => Promise<unknown>>>

/**
 * Runs a client process: prints ready, waits for the runner's "go", then runs the workload's
 * client (which ends the process with `finish`); an error ends it with status 1.
 */
export const runClient = (label: string, options: Options, clients: Clients): void => {
  const run = async () => {
    printReady()
    await waitForGo()
    const client = clients[options.workload]
    if (client === undefined) throw new Error(`${label} cannot run the ${options.workload} workload`)
    await client(options)
  }
  run().catch(fail(label, options))
}

/** A contender's process: its server, or its client (`runClient`), as the command line says. */
export const runContender = (label: string, server: (options: Options) => unknown, clients: Clients): void => {
  const options = parseOptions()
  if (options.role === "client") runClient(label, options, clients)
  else Promise.resolve().then(() => server(options)).catch(fail(label, options))
}

// ---------------------------------------------------------------------------------------
// Byte streams

/** Splits text that arrives in chunks into lines: the runner's stdin, the control connection. */
export interface LineSplitter {
  /** Adds a chunk as it arrives (bytes are UTF-8 text; they are decoded before `push` returns). */
  readonly push: (chunk: string | Uint8Array) => void
  /** No more chunks will come: a `next` with no whole line left fails. */
  readonly end: () => void
  /** The next whole line, without its "\n". */
  readonly next: () => Promise<string>
}

export const lineSplitter = (): LineSplitter => {
  const decoder = new TextDecoder()
  const lines: Array<string> = []
  let text = ""
  let ended = false
  let waiting: (() => void) | undefined
  return {
    push: (chunk) => {
      text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true })
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n")) {
        lines.push(text.slice(0, end))
        text = text.slice(end + 1)
      }
      waiting?.()
    },
    end: () => {
      ended = true
      waiting?.()
    },
    next: async () => {
      while (lines.length === 0) {
        if (ended) throw new Error("the connection ended before the line awaited")
        await new Promise<void>((resolve) => (waiting = resolve))
      }
      return lines.shift()!
    }
  }
}

/**
 * Echo clients on a byte stream, one request in flight per connection: a handler for the
 * connection's chunks that calls `reply` each time `size` more bytes have arrived (the echo of
 * the request, however the stream split it).
 */
export const onEchoes = (size: number, reply: () => void) => {
  let have = 0
  return (chunk: { readonly length: number }): void => {
    have += chunk.length
    if (have < size) return
    have -= size
    reply()
  }
}

/**
 * Replies of `count` bytes on a byte stream (the throughput acknowledgement): `subscribe` hands
 * the connection's chunks to the handler it is given; the function returned resolves each time
 * `count` more bytes have arrived.
 */
export const replies = (count: number, subscribe: (receive: (chunk: { readonly length: number }) => void) => void) => {
  let have = 0
  let waiting: (() => void) | undefined
  subscribe((chunk) => {
    have += chunk.length
    if (have >= count && waiting !== undefined) {
      have -= count
      const wake = waiting
      waiting = undefined
      wake()
    }
  })
  return () =>
    new Promise<void>((resolve) => {
      if (have >= count) {
        have -= count
        resolve()
      } else {
        waiting = resolve
      }
    })
}

// ---------------------------------------------------------------------------------------
// Time-boxed repeats

export interface Repeat {
  readonly ops: number
  readonly ms: number
  readonly p50?: number
  readonly p99?: number
}

/**
 * Counts operations into a warm-up and then `repeats` windows of `repeat` milliseconds. The
 * caller reports each completed operation with `record`, which answers whether to go on, so
 * the same driver serves a loop in an Effect, a callback chain and many concurrent workers.
 * Latencies given to `latency` (microseconds) are kept per window for its p50 and p99.
 */
export class Repeats {
  readonly results: Array<Repeat> = []
  readonly #options: Options
  readonly #keepLatencies: boolean
  #latencies: Array<number> = []
  #window = -1 // the warm-up
  #windowStart = 0
  #ops = 0

  constructor(options: Options, keepLatencies = false) {
    this.#options = options
    this.#keepLatencies = keepLatencies
  }

  get done(): boolean {
    return this.#window >= this.#options.repeats
  }

  /** Starts the warm-up now. */
  start(): void {
    this.#windowStart = performance.now()
  }

  latency(us: number): void {
    if (this.#keepLatencies) this.#latencies.push(us)
  }

  /** Counts `ops` completed operations; false once every repeat is done. */
  record(ops: number): boolean {
    if (this.done) return false
    this.#ops += ops
    const now = performance.now()
    const elapsed = now - this.#windowStart
    const length = this.#window < 0 ? this.#options.warmup : this.#options.repeat
    if (elapsed < length) return true
    if (this.#window >= 0) this.results.push(this.#close(elapsed))
    this.#window++
    this.#windowStart = now
    this.#ops = 0
    this.#latencies = []
    return !this.done
  }

  #close(ms: number): Repeat {
    if (!this.#keepLatencies) return { ops: this.#ops, ms }
    const sorted = Float64Array.from(this.#latencies).sort()
    const at = (p: number) => sorted.length === 0 ? 0 : sorted[Math.round(p * (sorted.length - 1))]!
    return { ops: this.#ops, ms, p50: at(0.5), p99: at(0.99) }
  }
}

// ---------------------------------------------------------------------------------------
// Memory workloads

/**
 * A measurement request of the memory workloads: "M c=<connections> m=<messages>", answered
 * once the server has accepted that many connections and received that many other messages,
 * let them settle and collected its garbage.
 */
export const measurementRequest = (conns: number, messages: number): string => `M c=${conns} m=${messages}`

/** The byte that starts a measurement request (data messages are zeros). */
export const MEASURE_BYTE = 0x4d

export const parseMeasurementRequest = (text: string): { readonly conns: number; readonly messages: number } => {
  const match = /^M c=(\d+) m=(\d+)/.exec(text)
  if (match === null) throw new Error(`bad measurement request: ${text}`)
  return { conns: Number(match[1]), messages: Number(match[2]) }
}

interface Collectable {
  gc?: (full?: boolean) => void
  Bun?: { gc(force: boolean): void }
}

/** A full garbage collection where the runtime allows it (node/deno --expose-gc, Bun.gc). */
export const collectGarbage = (): void => {
  const global = globalThis as Collectable
  if (global.Bun !== undefined) global.Bun.gc(true)
  else global.gc?.()
}

/** The answer to a measurement request: the server is quiescent and its garbage collected. */
export const MEASURE_REPLY = "measured"

/** Waits until `ready()` holds, polling (the memory servers answer when the counts are reached). */
export const until = async (ready: () => boolean): Promise<void> => {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 5))
}

/**
 * Before a measurement: lets the connections just accepted start reading, then collects the
 * garbage (what is left is what the server holds on to).
 */
export const settle = async (): Promise<void> => {
  await new Promise((resolve) => setTimeout(resolve, 20))
  collectGarbage()
}

/**
 * Connects with `attempt`, retrying while the server's listen backlog is full (a non-blocking
 * AF_UNIX connect then fails with EAGAIN instead of waiting), with a growing pause.
 */
export const connectWithRetry = async <A>(attempt: () => Promise<A>, retryable: ReadonlyArray<string> = ["EAGAIN"]): Promise<A> => {
  for (let pause = 1;; pause = Math.min(pause * 2, 100)) {
    try {
      return await attempt()
    } catch (error) {
      if (!retryable.includes(String((error as { code?: unknown }).code))) throw error
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
}

/** What a memory workload's step loop reaches after each of `steps` steps towards `total`. */
export const stepTargets = (total: number, steps: number): Array<number> =>
  Array.from({ length: steps }, (_, i) => Math.floor(total * (i + 1) / steps))

/**
 * The client's end of the control connection: `subscribe` hands what arrives on it to the line
 * splitter it is given, `write` sends a line; the function returned sends a request (one line)
 * and resolves with the server's answer.
 */
export const controlChannel = (
  write: (line: string) => unknown,
  subscribe: (answers: LineSplitter) => void
): (request: string) => Promise<string> => {
  const answers = lineSplitter()
  subscribe(answers)
  return async (request) => {
    await write(request)
    return answers.next()
  }
}

/** A byte-stream contender's side of a memory workload's client. */
export interface MemoryClient<C> {
  /** Sends `request` (one line) on the control connection; resolves on the server's answer. */
  readonly measure: (request: string) => Promise<unknown>
  /** Opens a connection to the server. */
  readonly open: () => Promise<C>
  /** Sends one data message (`size` zero bytes) on `connection`. */
  readonly send: (connection: C) => Promise<unknown> | undefined
}

/**
 * The client of the memory workloads: idle opens `conns` connections in `steps` steps, messages
 * sends `count` messages on one data connection in `steps` steps; the server is sampled at the
 * start and after each step. Ends the process with {"done":true}.
 */
export const memorySteps = async <C>(options: Options, { measure, open, send }: MemoryClient<C>): Promise<never> => {
  const measureAt = async (conns: number, messages: number, at: number) => {
    await measure(`${measurementRequest(conns, messages)}\n`)
    await sample(at)
  }
  if (options.workload === "idle") {
    const idle: Array<C> = []
    await measureAt(1, 0, 0)
    for (const target of stepTargets(options.conns, options.steps)) {
      while (idle.length < target) idle.push(await open())
      await measureAt(1 + idle.length, 0, idle.length)
    }
  } else {
    const data = await open()
    await measureAt(2, 0, 0)
    let sent = 0
    for (const target of stepTargets(options.count, options.steps)) {
      for (; sent < target; sent++) await send(data)
      await measureAt(2, sent, sent)
    }
  }
  return finish({ done: true })
}

/**
 * The server of the memory workloads on a byte stream: counts the connections accepted and the
 * data bytes received, and answers the measurement requests on the control connection (the one
 * whose first byte is MEASURE_BYTE) with `answer(connection, MEASURE_REPLY line)` once the
 * counts are reached and the server has settled. The function returned takes each connection
 * accepted and returns what takes its chunks (the first `length` bytes of `chunk`).
 */
export const memoryServer = <C>(options: Options, answer: (connection: C, line: string) => unknown) => {
  let accepted = 0
  let bytes = 0
  const serveControl = async (connection: C, requests: LineSplitter) => {
    for (;;) {
      const wanted = parseMeasurementRequest(await requests.next())
      await until(() => accepted >= wanted.conns && bytes >= wanted.messages * options.size)
      await settle()
      await answer(connection, `${MEASURE_REPLY}\n`)
    }
  }
  return (connection: C) => {
    accepted++
    let control: boolean | undefined
    let requests: LineSplitter | undefined
    return (chunk: Uint8Array, length = chunk.length): void => {
      control ??= chunk[0] === MEASURE_BYTE
      if (!control) {
        bytes += length
        return
      }
      if (requests === undefined) void serveControl(connection, requests = lineSplitter())
      requests.push(chunk.subarray(0, length))
    }
  }
}

export const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)
