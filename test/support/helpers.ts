/**
 * Shared test helpers for all three runtimes: the runtime's driver, descriptor counting,
 * temporary directories and real child processes (of any runtime, optionally as another uid).
 */
import { Effect, type Scope } from "effect"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Fd } from "../../src/Fd.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import * as UnixServer from "../../src/UnixServer.ts"
import * as UnixSocket from "../../src/UnixSocket.ts"
import { Stream } from "effect"
import { commandLine, layer, root, type Runtime, runtime } from "./runtime.ts"

export { root, runtime }

/**
 * This process's open descriptors as `number -> target`, from /proc. Deno grants
 * /proc/self only with --allow-all, so under Deno the same listing is read by `ls`.
 */
const listFds = (): Array<string> => {
  if (runtime === "deno") {
    // ls may race with a descriptor closing while it lists (exit 1, the rest still printed).
    const output = spawnSync("ls", ["-l", `/proc/${process.pid}/fd`], { encoding: "utf8" }).stdout
    return output.split("\n").flatMap((line) => {
      const match = / (\d+) -> (.*)$/.exec(line)
      return match === null ? [] : [`${match[1]}->${match[2]}`]
    })
  }
  return fs.readdirSync("/proc/self/fd").map((fd) => {
    try {
      return `${fd}->${fs.readlinkSync(`/proc/self/fd/${fd}`)}`
    } catch {
      return fd // the directory handle readdir itself used
    }
  })
}

/**
 * The descriptor count once the runtime has finished releasing what earlier tests' child
 * processes left behind (Bun closes a killed child's stdio sockets a little after "close").
 */
export const settledFdCount = async (): Promise<number> => {
  let count = countFds()
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    const again = countFds()
    if (again === count) return count
    count = again
  }
  return count
}

/**
 * What descriptor `n` refers to (`/dev/null`, `pipe:[…]`), or undefined when it is not open.
 * (Under Deno the listing runs `ls`, whose own pipes may take a number just freed: check what
 * a number refers to, not only that it is open.)
 */
export const fdTarget = (n: number): string | undefined =>
  listFds().find((entry) => entry.startsWith(`${n}->`))?.slice(`${n}->`.length)

/** A file under /proc (Deno grants /proc only with --allow-all: there `cat` reads it). */
export const readProc = (file: string): string =>
  runtime === "deno" ? execFileSync("cat", [file], { encoding: "utf8" }) : fs.readFileSync(file, "utf8")

/** How many descriptors this process has open. */
export const countFds = (): number => listFds().length

/**
 * How many open descriptors refer to `target` (a file a test made for the purpose): unlike a
 * count of all of them, untouched by what the runtime opens and closes for itself meanwhile
 * (under Deno, the listing's own `ls` and its stdio: pipes and /dev/null).
 */
export const countFdsTo = (target: string): number => listFds().filter((entry) => entry.endsWith(`->${target}`)).length

/**
 * Open descriptors other than pipes, anonymous inodes and /dev/null: the sockets and files a
 * test deals in, without what the runtime opens for child processes (stdio pipes, /dev/null for
 * ignored stdio), which Deno closes whenever it gets to it, during a later test too. A test
 * counting received descriptors this way sends a file of its own.
 */
export const socketsAndFiles = (): Array<string> => listFds().filter((entry) => !/->(pipe:|anon_inode:|\/dev\/null$)/.test(entry))

const describeFds = (): string => listFds().join(" ")

/** Runs a scoped program with this runtime's driver. */
export const run = <A, E>(effect: Effect.Effect<A, E, UnixDriver | Scope.Scope>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(layer)))

/**
 * Runs a scoped program with this runtime's driver and fails if this process holds a different
 * number of descriptors after its scope closed than before it started.
 */
export const runCountingFds = async <A, E>(effect: Effect.Effect<A, E, UnixDriver | Scope.Scope>): Promise<A> => {
  await warmUp()
  const before = await settledFdCount()
  const listing = describeFds()
  const collected = Fd.closedByGarbageCollector()
  const result = await run(effect)
  // Bun closes a finished child's stdio sockets shortly after its "close" event: give the
  // runtime a moment (bounded) to release its own descriptors. The library closes its
  // descriptors synchronously, and the garbage-collection backstop must not have helped.
  let after = countFds()
  for (let i = 0; i < 200 && after !== before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    after = countFds()
  }
  if (Fd.closedByGarbageCollector() !== collected) {
    throw new Error(`descriptor leak: the garbage-collection backstop had to close ${Fd.closedByGarbageCollector() - collected}`)
  }
  if (after !== before) {
    throw new Error(`descriptor leak: ${before} open before, ${after} after\nbefore: ${listing}\nafter:  ${describeFds()}`)
  }
  return result
}

/**
 * Descriptors that are created once per process on first use and kept: the driver's (epoll,
 * eventfd) and the runtime's own process machinery (Bun opens an epoll, an eventfd and a pipe
 * on its first synchronous spawn). Counting starts after them.
 */
let warmedUp: Promise<void> | undefined
const warmUp = (): Promise<void> =>
  warmedUp ??= (async () => {
    await run(Effect.void)
    execFileSync("true")
    await new Promise<void>((resolve) => spawn("true", [], { stdio: ["ignore", "pipe", "pipe"] }).on("close", () => resolve()))
  })()

/** A fresh directory that other uids may traverse (so a child under uid 65534 can connect). */
export const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "usfp-"))
  fs.chmodSync(dir, 0o755)
  return dir
}

export const isRoot = process.getuid?.() === 0

export interface Exit {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

export interface Child {
  readonly pid: number
  /** Resolves with the exit code (or signal) and everything the child printed. */
  readonly exited: Promise<Exit>
  /** What the child printed on stdout so far. */
  readonly output: () => string
  /** Resolves with the first stdout line containing `text`. */
  readonly waitFor: (text: string) => Promise<string>
  readonly kill: (signal?: NodeJS.Signals) => void
}

export interface SpawnOptions {
  /** Run as this uid and gid (through setpriv, the same way in every runtime; needs root). */
  readonly uid?: number
  /** The runtime of the new process; default: the one running the test. */
  readonly runtime?: Runtime
  /** Runtime flags placed before the script (e.g. `--expose-gc`). */
  readonly flags?: ReadonlyArray<string>
  /** Run with this umask (octal digits, e.g. "000"). */
  readonly umask?: string
  /** Deno only: the permission flags, instead of the full set a user of this package passes. */
  readonly denoFlags?: ReadonlyArray<string>
  readonly env?: Record<string, string>
}

/** A Deno cache directory the child's uid can write. */
const denoDir = (uid: number) => {
  const dir = path.join(os.tmpdir(), `usfp-deno-dir-${uid}`)
  fs.mkdirSync(dir, { recursive: true })
  if (process.getuid?.() === 0) fs.chownSync(dir, uid, uid)
  return dir
}

/** Starts any TypeScript file as a new process, under the chosen runtime and uid. */
export const spawnScript = (script: string, args: ReadonlyArray<string>, options: SpawnOptions = {}): Child => {
  const target = options.runtime ?? runtime
  const name = `${path.basename(script)} ${args.join(" ")}`
  return spawnProgram(commandLine(target, script, args, options.flags, options.denoFlags), { ...options, name })
}

/**
 * Starts any program (`argv`) as a new process, optionally as another uid, with its output
 * captured; `name` says who it is in errors.
 */
export const spawnProgram = (
  command: ReadonlyArray<string>,
  options: {
    readonly uid?: number
    readonly umask?: string
    readonly env?: Record<string, string>
    readonly name?: string
    readonly cwd?: string
  } = {}
): Child => {
  let argv = command
  if (options.umask !== undefined) argv = ["sh", "-c", `umask ${options.umask} && exec "$@"`, "sh", ...argv]
  if (options.uid !== undefined) {
    argv = ["setpriv", `--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups", "--", ...argv]
  }
  const uid = options.uid ?? process.getuid?.() ?? 0
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd ?? root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DENO_DIR: denoDir(uid), NO_COLOR: "1", ...options.env }
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<{ text: string; resolve: (line: string) => void }> = []
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    for (const waiter of [...waiters]) {
      const line = stdout.split("\n").find((l) => l.includes(waiter.text))
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<Exit>((resolve) =>
    child.on("close", (code, signal) => {
      child.stdout!.destroy()
      child.stderr!.destroy()
      resolve({ code, signal, stdout, stderr })
    })
  )
  const name = options.name ?? command.join(" ")
  return {
    pid: child.pid!,
    exited,
    output: () => stdout,
    waitFor: (text) =>
      new Promise((resolve, reject) => {
        const line = stdout.split("\n").find((l) => l.includes(text))
        if (line !== undefined) return resolve(line)
        waiters.push({ text, resolve })
        void exited.then((r) =>
          reject(new Error(`${name} exited (${r.code ?? r.signal}) before printing "${text}": ${r.stderr}${r.stdout}`))
        )
      }),
    kill: (signal) => void child.kill(signal)
  }
}

/** Starts `test/fixtures/peer.ts <role> …args`: the peer process of the conformance suite. */
export const spawnPeer = (role: string, args: ReadonlyArray<string>, options: SpawnOptions = {}): Child =>
  spawnScript(path.join(root, "test/fixtures/peer.ts"), [role, ...args], options)

/** `exited`, failing unless the child exited 0; returns its stdout. */
export const succeeded = async (child: Child): Promise<string> => {
  const result = await child.exited
  if (result.code !== 0) {
    throw new Error(`peer exited ${result.code ?? result.signal}: ${result.stderr}\n${result.stdout}`)
  }
  return result.stdout
}

/**
 * A descriptor as a receiver gets it: a file holding `content` is opened, sent over a
 * SEQPACKET pair, and the received `Fd` returned (its sender's copy already closed).
 */
export const receiveOpenFile = (content: string) =>
  Effect.gen(function*() {
    const [a, b] = yield* UnixSocket.pair("seqpacket")
    const file = `${tempDir()}/received.txt`
    fs.writeFileSync(file, content)
    const fd = yield* Fd.open(file)
    yield* a.send({ fds: [fd] })
    fd.close()
    const [message] = yield* b.messages.pipe(Stream.take(1), Stream.runCollect)
    return message!.fds[0]!
  })

/** Accepts one connection and returns it with its first message. */
export const firstMessage = (server: UnixServer.UnixServer) =>
  Effect.gen(function*() {
    const [connection] = yield* server.connections.pipe(Stream.take(1), Stream.runCollect)
    const [message] = yield* connection!.messages.pipe(Stream.take(1), Stream.runCollect)
    return { connection: connection!, message: message! }
  })

/**
 * A connected socket received from another process: the peer (`send-fds socket`) sends one
 * end of a socketpair, writes "through a socket" into its own end, and prints the reply it
 * reads there ("socket reply: …") before exiting.
 */
export const receiveSocketFromPeer = () =>
  Effect.gen(function*() {
    const server = yield* UnixServer.listen({ address: `${tempDir()}/s.sock` })
    const peer = spawnPeer("send-fds", [server.address.text, "socket"])
    const { message } = yield* firstMessage(server)
    return { fd: message.fds[0]!, peer }
  })
