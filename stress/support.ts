/**
 * What every stress scenario shares: measuring a process from the outside (/proc), starting
 * the helper processes (stress/server.ts, stress/peer.ts, the Python peers) and talking to
 * them line by line, and recording what held and what broke.
 *
 * Measurements are always taken from /proc/<pid>, never reported by the process measured: a
 * process that leaks cannot hide it, and the numbers mean the same for every helper.
 */
import { Cause, Effect, Exit as Exit_, type Scope } from "effect"
import type { UnixDriver } from "../src/UnixDriver.ts"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"

export const stressDir = path.dirname(fileURLToPath(import.meta.url))
export const root = path.resolve(stressDir, "..")

// ---------------------------------------------------------------------------------------
// Measuring processes

/** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

export const MiB = 1024 * 1024

/** Open descriptors of `pid`. For this process the count includes the directory handle readdir uses. */
export const fdCount = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length

const statusBytes = (pid: number, field: string): number => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return match === null ? Number.NaN : Number(match[1]) * 1024
}

/** Resident set size in bytes (VmRSS). */
export const rss = (pid: number): number => statusBytes(pid, "VmRSS")

/** Peak resident set size since start or the last `resetPeakRss` (VmHWM). */
export const peakRss = (pid: number): number => statusBytes(pid, "VmHWM")

/** Starts a new peak: writing 5 to clear_refs resets VmHWM to the current RSS. */
export const resetPeakRss = (pid: number): void => {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5")
  } catch {
    // an older kernel: VmHWM then covers the whole life of the process, which only overstates
  }
}

/** User plus system CPU time in seconds. */
export const cpuSeconds = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name may contain spaces and parentheses: the fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

export interface Snapshot {
  readonly fds: number
  readonly rss: number
  readonly cpu: number
  readonly at: number
  /** The JS heap in use, as the process reports it (after a full GC: what it holds on to). */
  readonly heap?: number
}

export const snapshot = (pid: number): Snapshot => ({
  fds: fdCount(pid),
  rss: rss(pid),
  cpu: cpuSeconds(pid),
  at: performance.now()
})

/**
 * The descriptor count of `pid` once it equals `target`, or whatever it is after `timeoutMs`:
 * a server closes a connection's descriptors when it sees the peer go, a little after the
 * peer went.
 */
export const settledFds = (pid: number, target: number, timeoutMs = 5000): Effect.Effect<number> =>
  Effect.gen(function*() {
    const deadline = performance.now() + timeoutMs
    let count = fdCount(pid)
    while (count !== target && performance.now() < deadline) {
      yield* Effect.sleep(20)
      count = fdCount(pid)
    }
    return count
  })

/** The descriptor count of `pid` once it stopped changing (two equal readings 100 ms apart). */
export const steadyFds = (pid: number): Effect.Effect<number> =>
  Effect.gen(function*() {
    let count = fdCount(pid)
    for (let i = 0; i < 50; i++) {
      yield* Effect.sleep(100)
      const again = fdCount(pid)
      if (again === count) return count
      count = again
    }
    return count
  })

/**
 * Watches processes while `effect` runs: RSS and descriptor peaks, sampled every
 * `everyMs` (VmHWM is read at the end as well, so a peak between samples is not missed).
 */
export const watchPeaks = <A, E, R>(
  pids: ReadonlyArray<number>,
  effect: Effect.Effect<A, E, R>,
  everyMs = 100
): Effect.Effect<{ readonly result: A; readonly peakRss: Array<number>; readonly peakFds: Array<number> }, E, R> =>
  Effect.gen(function*() {
    for (const pid of pids) resetPeakRss(pid)
    const peaks = pids.map((pid) => rss(pid))
    const fdPeaks = pids.map((pid) => fdCount(pid))
    const sample = () =>
      pids.forEach((pid, i) => {
        try {
          peaks[i] = Math.max(peaks[i]!, rss(pid))
          fdPeaks[i] = Math.max(fdPeaks[i]!, fdCount(pid))
        } catch {
          // the process exited between samples
        }
      })
    const timer = setInterval(sample, everyMs)
    const result = yield* Effect.ensuring(effect, Effect.sync(() => clearInterval(timer)))
    sample()
    pids.forEach((pid, i) => {
      try {
        peaks[i] = Math.max(peaks[i]!, peakRss(pid))
      } catch {
        // exited
      }
    })
    return { result, peakRss: peaks, peakFds: fdPeaks }
  })

// ---------------------------------------------------------------------------------------
// Helper processes

/** A JSON value a helper printed. */
export type Json = any

export interface Exit {
  readonly code: number | null
  readonly signal: string | null
}

/**
 * A helper process speaking the stress line protocol: every stdout line it prints is a JSON
 * object, `{"ready": …}` once, `{"reply": id, "ok": …}` or `{"reply": id, "error": …}` for
 * each request written to its stdin as `{"id", "command", …}`, and `{"event": …}` whenever it
 * has something to say unasked. Anything else it prints (a runtime warning) is kept for
 * error messages.
 */
export class Helper {
  readonly pid: number
  readonly name: string
  readonly exited: Promise<Exit>
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (value: Json) => void; reject: (error: Error) => void }>()
  readonly #events: Array<Json> = []
  readonly #eventWaiters: Array<() => void> = []
  #nextId = 1
  #stderr = ""
  #noise = ""
  #ready: Promise<Json>
  #exit: Exit | undefined

  constructor(argv: ReadonlyArray<string>, name: string) {
    this.name = name
    this.#child = spawn(argv[0]!, argv.slice(1), { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
    this.pid = this.#child.pid!
    let onReady: (value: Json) => void = () => {}
    let onNotReady: (error: Error) => void = () => {}
    this.#ready = new Promise((resolve, reject) => {
      onReady = resolve
      onNotReady = reject
    })
    this.#ready.catch(() => {}) // reported by whoever awaits it
    readline.createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      let message: Json
      try {
        message = JSON.parse(line)
      } catch {
        this.#noise = (this.#noise + line + "\n").slice(-4000)
        return
      }
      if ("ready" in message) onReady(message.ready)
      else if ("reply" in message) {
        const pending = this.#pending.get(message.reply)
        this.#pending.delete(message.reply)
        if ("error" in message) pending?.reject(new Error(`${this.name}: ${message.error}`))
        else pending?.resolve(message.ok)
      } else if ("event" in message) {
        this.#events.push(message)
        for (const wake of this.#eventWaiters.splice(0)) wake()
      }
    })
    this.#child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-8000)
    })
    this.#child.stdin!.on("error", () => {}) // the helper may be gone: its exit says why
    this.exited = new Promise((resolve) =>
      this.#child.on("close", (code, signal) => {
        this.#exit = { code, signal }
        const error = new Error(`${this.name} exited (${code ?? signal}): ${this.output()}`)
        onNotReady(error)
        for (const pending of this.#pending.values()) pending.reject(error)
        this.#pending.clear()
        for (const wake of this.#eventWaiters.splice(0)) wake()
        resolve({ code, signal })
      })
    )
  }

  /**
   * `node [flags] --import tsx stress/<script> …args`, optionally under a wrapper such as
   * prlimit.
   */
  static node(
    script: string,
    args: ReadonlyArray<string> = [],
    options: { readonly wrapper?: ReadonlyArray<string>; readonly flags?: ReadonlyArray<string> } = {}
  ): Helper {
    return new Helper(
      [...options.wrapper ?? [], process.execPath, ...options.flags ?? [], "--import", "tsx", path.join(stressDir, script), ...args],
      `${script} ${args.join(" ")}`.trim()
    )
  }

  /** `python3 stress/<script> …args`. */
  static python(script: string, args: ReadonlyArray<string> = []): Helper {
    return new Helper(["python3", path.join(stressDir, script), ...args], `${script} ${args.join(" ")}`.trim())
  }

  /** What the helper printed besides protocol lines, and its stderr: for error messages. */
  output(): string {
    return `${this.#stderr}${this.#noise}`.trim().slice(-3000)
  }

  ready(): Promise<Json> {
    return this.#ready
  }

  request(command: string, fields: Record<string, unknown> = {}): Promise<Json> {
    if (this.#exit !== undefined) return Promise.reject(new Error(`${this.name} has exited: ${this.output()}`))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#child.stdin!.write(`${JSON.stringify({ ...fields, id, command })}\n`)
    })
  }

  /** Events printed so far. */
  get events(): ReadonlyArray<Json> {
    return this.#events
  }

  /** The first event (past or future) for which `test` holds. */
  async event(test: (event: Json) => boolean, timeoutMs = 60_000): Promise<Json> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const found = this.#events.find(test)
      if (found !== undefined) return found
      if (this.#exit !== undefined) throw new Error(`${this.name} exited (${this.#exit.code ?? this.#exit.signal}): ${this.output()}`)
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`${this.name}: no such event within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#eventWaiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.#exit === undefined) this.#child.kill(signal)
  }

  /** Asks the helper to exit (closing its stdin), and kills it if it does not within 5 s. */
  async stop(): Promise<Exit> {
    if (this.#exit !== undefined) return this.#exit
    this.#child.stdin!.end()
    const timer = setTimeout(() => this.kill(), 5000)
    const exit = await this.exited
    clearTimeout(timer)
    return exit
  }
}

/** A helper tied to the current scope: stopped when the scope closes. */
export const helper = (make: () => Helper): Effect.Effect<Helper, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(make), (h) => Effect.promise(() => h.stop()))

/** A helper tied to the current scope, once it said it is ready; returns it and what it said. */
export const started = (make: () => Helper): Effect.Effect<{ readonly helper: Helper; readonly ready: Json }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const h = yield* helper(make)
    const ready = yield* Effect.promise(() => h.ready())
    return { helper: h, ready }
  })

/** A request to a helper, as an Effect (a failed request is a defect: the scenario crashes). */
export const ask = (h: Helper, command: string, fields: Record<string, unknown> = {}): Effect.Effect<Json> =>
  Effect.promise(() => h.request(command, fields))

/**
 * stress/server.ts or stress/peer.ts, started with --expose-gc so that memory can be compared
 * after a full collection (`collected`), and optionally under a wrapper.
 */
export const startHelper = (
  script: "server.ts" | "peer.ts",
  wrapper?: ReadonlyArray<string>
): Effect.Effect<Helper, never, Scope.Scope> =>
  Effect.map(
    started(() => Helper.node(script, [], { flags: ["--expose-gc"], ...(wrapper === undefined ? {} : { wrapper }) })),
    ({ helper }) => helper
  )

/**
 * A snapshot of a helper after a full garbage collection: what it holds on to, without the
 * garbage the collector has not got round to yet (which depends on the collector's mood, not
 * on the code under test).
 */
export const collected = (h: Helper): Effect.Effect<Snapshot> =>
  Effect.gen(function*() {
    yield* ask(h, "gc")
    yield* Effect.sleep(100) // finalizers run after the collection, in a task of their own
    const memory = yield* ask(h, "memory")
    return { ...snapshot(h.pid), heap: memory.heapUsed as number }
  })

/**
 * "RSS 150.1 MB before, 230.4 MB peak, 160.2 MB after (+10.1 MB; JS heap 25.0 → 25.3 MB,
 * both after a full GC); 3.2 s CPU"
 */
export const memoryText = (before: Snapshot, peak: number, after: Snapshot): string =>
  `RSS ${mb(before.rss)} MB before, ${mb(peak)} MB peak, ${mb(after.rss)} MB after (${deltaMb(after.rss - before.rss)} MB` +
  `${before.heap === undefined || after.heap === undefined ? "" : `; JS heap ${mb(before.heap)} → ${mb(after.heap)} MB`}, ` +
  `both after a full GC); ${(after.cpu - before.cpu).toFixed(1)} s CPU`

// ---------------------------------------------------------------------------------------
// Recording what held

/** One scenario's findings: what was tried, how much, what held, what broke. */
export class Findings {
  readonly held: Array<string> = []
  readonly broken: Array<string> = []
  tried = ""
  amount = ""

  constructor(readonly name: string) {}

  /** Prints a figure as the scenario goes. */
  log(text: string): void {
    const seconds = (performance.now() / 1000).toFixed(1).padStart(6)
    console.log(`[${seconds}s] ${this.name}: ${text}`)
  }

  /**
   * Records an invariant: `held` (with the measured numbers) goes to the table when it holds
   * (unless `table` is false: a detail a summary line covers), `broken` (what was seen
   * instead) when it does not. Returns whether it held.
   */
  check(condition: boolean, held: string, broken: string = held, table = true): boolean {
    if (condition) {
      if (table) this.held.push(held)
      this.log(`ok: ${held}`)
    } else {
      this.broken.push(broken)
      this.log(`BROKEN: ${broken}`)
    }
    return condition
  }

  /** A measured number worth a line in the table, with no pass/fail attached. */
  note(text: string): void {
    this.held.push(text)
    this.log(text)
  }
}

// ---------------------------------------------------------------------------------------
// Formatting

export const mb = (bytes: number): string => (bytes / MiB).toFixed(1)
/**
 * What a process may keep on its JS heap after a long run, compared after a full GC: a
 * per-connection leak of even 100 bytes over 100,000 connections is more.
 */
export const RETAINED_HEAP_LIMIT = 8 * MiB

/** Whether the JS heap after a full GC grew by less than `RETAINED_HEAP_LIMIT`. */
export const heapKept = (before: Snapshot, after: Snapshot): boolean =>
  before.heap !== undefined && after.heap !== undefined && after.heap - before.heap < RETAINED_HEAP_LIMIT

/** A change in MB, with its sign. */
export const deltaMb = (bytes: number): string => `${bytes < 0 ? "−" : "+"}${mb(Math.abs(bytes))}`
export const secs = (ms: number): string => (ms / 1000).toFixed(1)
export const count = (n: number): string => n.toLocaleString("en-US")
export const rate = (n: number, ms: number): string => count(Math.round(n / (ms / 1000)))

/** `name: n, name: n` for a tally, largest first. */
export const tallyText = (tally: Record<string, number>): string =>
  Object.entries(tally).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${count(v)}`).join(", ") || "none"

/** A fresh directory for socket files. */
export const tempDir = (): string => fs.mkdtempSync(path.join("/tmp", "usfp-stress-"))

/** Removes a directory made by `tempDir`, with the current scope. */
export const scopedTempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(tempDir),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** An abstract socket name unique to this run. */
export const abstractName = (what: string): string => `@usfp-stress-${process.pid}-${what}`

// ---------------------------------------------------------------------------------------
// Scenarios

/** One reliability scenario: `npm run stress -- <name>` runs it alone. */
export interface Scenario {
  /** What the filter matches. */
  readonly name: string
  /** Its name in the table. */
  readonly title: string
  /** The paragraph of results.md: what it does, what it proves. */
  readonly about: string
  readonly run: (findings: Findings) => Effect.Effect<void, unknown, UnixDriver | Scope.Scope>
}

/** The error of a failed exit, as text for a report. */
export const failureText = (exit: Exit_.Exit<unknown, unknown>): string => {
  if (Exit_.isSuccess(exit)) return "success"
  const error = Cause.squash(exit.cause)
  if (Cause.isTimeoutError(error)) return "timed out"
  if (typeof error === "object" && error !== null && "_tag" in error) {
    return `${String((error as { _tag: unknown })._tag)}: ${String((error as { message?: unknown }).message ?? "")}`
  }
  return error instanceof Error ? error.message : String(error)
}

/**
 * A listener's tally once `done` holds for it (or after `timeoutMs`, as it is then): the
 * server sees a peer's last bytes and its hang-up a little after the peer sent them.
 */
export const statsWhen = (
  server: Helper,
  name: string,
  done: (stats: Json) => boolean,
  timeoutMs = 30_000
): Effect.Effect<Json> =>
  Effect.gen(function*() {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const stats = yield* ask(server, "stats", { name })
      if (done(stats) || performance.now() > deadline) return stats
      yield* Effect.sleep(20)
    }
  })
