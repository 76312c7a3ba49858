/**
 * Running one contender on one case: its server and its client as two OS processes, both under
 * `taskset` (one core for both when pinned, every core otherwise), with the parameters on the
 * command line. Both start at once; the client is told "go" on stdin when the server listens,
 * and its result is the one JSON line it prints. In the memory cases the client stops at each
 * step with {"sample": at}, and the server, idle then and after a full GC, is measured here
 * from /proc/<pid> (taskset execs the command, so the pid is the server's own); their client
 * is told "go" only once the server has been ready for MEMORY_SETTLE_MS.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { type Case, type Contender, type Mode, root } from "./matrix.ts"

/** What a client printed as its result. */
export interface ClientResult {
  readonly repeats?: ReadonlyArray<{ readonly ops: number; readonly ms: number; readonly p50?: number; readonly p99?: number }>
  readonly samples?: ReadonlyArray<{ readonly at: number; readonly rss: number; readonly fds: number }>
}

export interface Timing {
  readonly warmup: number
  readonly repeat: number
  readonly repeats: number
}

/** `taskset` prefix: core 0 for both processes, or every core (undoing any inherited mask). */
export const affinity = (mode: Mode): ReadonlyArray<string> =>
  ["taskset", "-c", mode === "pinned" ? "0" : `0-${os.cpus().length - 1}`]

type Line = Record<string, unknown>

/** A child process whose stdout is read as JSON lines. */
class Child {
  readonly process: ChildProcess
  readonly lines: Array<Line> = []
  #read = 0
  readonly exited: Promise<number | null>
  #stderr = ""
  #waiters: Array<() => void> = []

  constructor(readonly name: string, argv: ReadonlyArray<string>) {
    this.process = spawn(argv[0]!, argv.slice(1), { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
    readline.createInterface({ input: this.process.stdout! }).on("line", (line) => {
      try {
        this.lines.push(JSON.parse(line))
      } catch {
        this.#stderr = (this.#stderr + line + "\n").slice(-4000) // a runtime's warning: kept for errors
      }
      this.#wake()
    })
    this.process.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000)
    })
    this.process.stdin!.on("error", () => {}) // it may be gone; its exit says why
    this.exited = new Promise((resolve) =>
      this.process.on("close", (code) => {
        this.#wake()
        resolve(code)
      })
    )
  }

  get output(): string {
    return this.#stderr.trim()
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake()
  }

  /** The next line it printed, or an error once the process exits or `ms` pass. */
  async next(ms: number): Promise<Line> {
    const deadline = performance.now() + ms
    for (;;) {
      if (this.#read < this.lines.length) return this.lines[this.#read++]!
      if (!this.running) throw new Error(`${this.name} exited (${this.process.exitCode ?? this.process.signalCode}): ${this.output}`)
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`${this.name}: nothing within ${Math.round(ms / 1000)} s: ${this.output}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Ends the process (SIGTERM, then SIGKILL) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.running) this.process.kill("SIGTERM")
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 2000)
    await this.exited
    clearTimeout(timer)
  }
}

const STARTUP_MS = 60_000
const RUN_MS = 90_000
/**
 * How long a memory case lets the server sit after it is ready before the first sample: what a
 * runtime sets up by itself shortly after start belongs to its baseline, not to the growth
 * measured (Deno, in any program, installs its signal handlers with a socketpair, two more
 * descriptors, about half a second after it starts).
 */
const MEMORY_SETTLE_MS = 1500

/** The argv of one side: taskset, the contender's command, then the protocol arguments. */
export const commandLine = (
  contender: Contender,
  testCase: Case,
  mode: Mode,
  role: "server" | "client",
  address: string,
  timing: Timing
): ReadonlyArray<string> => {
  const params = { ...testCase.params, ...(testCase.kind === "timed" ? timing : {}) }
  return [
    ...affinity(mode),
    ...contender.command,
    role,
    testCase.workload,
    address,
    ...Object.entries(params).map(([key, value]) => `${key}=${value}`)
  ]
}

/** VmRSS in bytes and the number of open descriptors of `pid`. */
const measureProcess = (pid: number): { readonly rss: number; readonly fds: number } => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)
  return { rss: kb === null ? Number.NaN : Number(kb[1]) * 1024, fds: fs.readdirSync(`/proc/${pid}/fd`).length }
}

const expect = async (child: Child, key: string, ms: number): Promise<Line> => {
  const line = await child.next(ms)
  if (!(key in line)) throw new Error(`${child.name}: expected {"${key}": …}, got ${JSON.stringify(line)}: ${child.output}`)
  return line
}

/** The client's lines up to its result; memory samples are taken as they are announced. */
const collect = async (client: Child, server: Child): Promise<ClientResult> => {
  const samples: Array<{ at: number; rss: number; fds: number }> = []
  for (;;) {
    const line = await client.next(RUN_MS)
    if ("repeats" in line) return line as ClientResult
    if ("done" in line) return { samples }
    if (!("sample" in line)) throw new Error(`${client.name}: unexpected ${JSON.stringify(line)}`)
    samples.push({ at: Number(line["sample"]), ...measureProcess(server.process.pid!) })
    client.process.stdin!.write("measured\n")
  }
}

/** Runs one contender's server and client on one case and returns the client's result. */
export const runPair = async (contender: Contender, testCase: Case, mode: Mode, timing: Timing): Promise<ClientResult> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "usfp-bench-"))
  const address = path.join(dir, "s.sock")
  const name = `${contender.id} ${testCase.id} ${mode}`
  const server = new Child(`${name} server`, commandLine(contender, testCase, mode, "server", address, timing))
  const client = new Child(`${name} client`, commandLine(contender, testCase, mode, "client", address, timing))
  try {
    await Promise.all([expect(server, "ready", STARTUP_MS), expect(client, "ready", STARTUP_MS)])
    if (testCase.kind === "memory") await new Promise((resolve) => setTimeout(resolve, MEMORY_SETTLE_MS))
    client.process.stdin!.write("go\n")
    return await collect(client, server)
  } finally {
    await Promise.all([client.stop(), server.stop()])
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
