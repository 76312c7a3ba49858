/**
 * Shared test helpers: the Node driver, descriptor counting, temporary directories and real
 * child processes.
 */
import { Effect, type Scope } from "effect"
import { spawn, type SpawnOptions } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeUnix from "../adapters/node/index.ts"
import { UnixDriver } from "../src/UnixDriver.ts"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** How many descriptors this process has open, from /proc/self/fd. */
export const countFds = (): number => fs.readdirSync("/proc/self/fd").length

/** Runs a scoped program with the Node driver. */
export const run = <A, E>(effect: Effect.Effect<A, E, UnixDriver | Scope.Scope>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(NodeUnix.layer)))

/**
 * Runs a scoped program with the Node driver and fails if this process holds a different
 * number of descriptors after its scope closed than before it started.
 */
export const runCountingFds = async <A, E>(effect: Effect.Effect<A, E, UnixDriver | Scope.Scope>): Promise<A> => {
  await run(Effect.void) // load the driver (its epoll and eventfd descriptors) before counting
  const before = countFds()
  const result = await run(effect)
  const after = countFds()
  if (after !== before) {
    throw new Error(`descriptor leak: ${before} open before, ${after} after (${fs.readdirSync("/proc/self/fd").map((fd) => {
      try {
        return `${fd}->${fs.readlinkSync(`/proc/self/fd/${fd}`)}`
      } catch {
        return fd
      }
    }).join(" ")})`)
  }
  return result
}

/** A fresh directory that other uids may traverse (so a child under uid 65534 can connect). */
export const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "usfp-"))
  fs.chmodSync(dir, 0o755)
  return dir
}

export const isRoot = process.getuid?.() === 0

export interface Child {
  readonly pid: number
  /** Resolves with the exit code (or signal) and everything the child printed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
  /** Resolves with the first stdout line containing `text`. */
  readonly waitFor: (text: string) => Promise<string>
  readonly kill: (signal?: NodeJS.Signals) => void
}

/**
 * Starts `test/fixtures/peer.ts <role> …args` in a new Node process (TypeScript through tsx),
 * optionally as another uid/gid.
 */
export const spawnPeer = (
  role: string,
  args: ReadonlyArray<string>,
  options: {
    readonly uid?: number
    readonly gid?: number
    readonly stdio?: SpawnOptions["stdio"]
    readonly nodeArgs?: ReadonlyArray<string>
  } = {}
): Child => {
  const script = path.join(root, "test/fixtures/peer.ts")
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", script, role, ...args], {
    cwd: root,
    stdio: options.stdio ?? ["ignore", "pipe", "pipe"],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    env: { ...process.env, TSX_DISABLE_CACHE: "1" }
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<{ text: string; resolve: (line: string) => void }> = []
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    for (const waiter of [...waiters]) {
      const line = stdout.split("\n").find((l) => l.includes(waiter.text))
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  return {
    pid: child.pid!,
    exited,
    waitFor: (text) =>
      new Promise((resolve, reject) => {
        const line = stdout.split("\n").find((l) => l.includes(text))
        if (line !== undefined) return resolve(line)
        waiters.push({ text, resolve })
        void exited.then((r) => reject(new Error(`peer ${role} exited (${r.code ?? r.signal}) before printing "${text}": ${r.stderr}${r.stdout}`)))
      }),
    kill: (signal) => child.kill(signal)
  }
}

/** `exited`, failing unless the child exited 0; returns its stdout. */
export const succeeded = async (child: Child): Promise<string> => {
  const result = await child.exited
  if (result.code !== 0) {
    throw new Error(`peer exited ${result.code ?? result.signal}: ${result.stderr}\n${result.stdout}`)
  }
  return result.stdout
}
