/**
 * `npm run bench`: every contender on every case it can do, pinned to one core and unpinned,
 * in one run; then bench/results.json, bench/README.md and bench/chart.svg.
 *
 * Before measuring it builds the C reference (`cc -O2` into bench/.build/) and the Node.js
 * contenders (esbuild, into bench/.build/) and, on first use, installs usocket into
 * bench/.build/usocket (npm). Each contender's server and client are
 * separate processes (bench/pair.ts); each case's repeats are time-boxed windows after a
 * warm-up, in the same pair of processes.
 *
 *   npm run bench                              the full run (rewrites results.json, README.md, chart.svg)
 *   npm run bench -- latency sdk-node pinned   only what matches every kind of word given
 *                                              (cases, contenders, modes); writes
 *                                              bench/.build/results-partial.json only
 *   npm run bench -- --warmup=1000 --repeat=300 --repeats=5   the timing (these are the defaults)
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import {
  benchDir,
  buildDir,
  type Case,
  cases,
  contender,
  type ContenderId,
  contenders,
  type Mode,
  modes,
  nodeBuild,
  nodeBuilds,
  referenceBinary,
  root,
  usocketPrefix
} from "./matrix.ts"
import { type ClientResult, runPair, type Timing } from "./pair.ts"
import { writeReport } from "./report.ts"
import { fillRatios, type Machine, type Results, type Row, rowsOf } from "./results.ts"

const log = (text: string) => {
  const seconds = (performance.now() / 1000).toFixed(1).padStart(6)
  console.log(`[${seconds}s] ${text}`)
}

const run = (argv: ReadonlyArray<string>, options: { readonly cwd?: string } = {}): string =>
  execFileSync(argv[0]!, argv.slice(1), { cwd: options.cwd ?? root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()

const tryRun = (argv: ReadonlyArray<string>): string => {
  try {
    return run(argv)
  } catch (error) {
    return `unavailable (${String((error as Error).message).split("\n")[0]})`
  }
}

// ---------------------------------------------------------------------------------------
// Preparing

/** Compiles the C reference every run: it takes a fraction of a second and is never stale. */
const buildReference = (): void => {
  fs.mkdirSync(buildDir, { recursive: true })
  const sources = fs.readdirSync(path.join(benchDir, "reference")).filter((f) => f.endsWith(".c")).map((f) => path.join(benchDir, "reference", f))
  run(["cc", "-O2", "-Wall", "-o", referenceBinary, ...sources])
  log(`built ${path.relative(root, referenceBinary)} (cc -O2)`)
}

/**
 * Compiles the Node.js contenders every run, as the package's build compiles the library: one
 * ES module each, no keepNames (see `nodeBuilds`). Bun and Deno run the TypeScript as it is.
 */
const buildNodeContenders = (): void => {
  for (const name of nodeBuilds) {
    run([
      path.join(root, "node_modules/.bin/esbuild"),
      path.join(benchDir, name),
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--packages=external",
      "--log-level=warning",
      `--outfile=${nodeBuild(name)}`
    ])
  }
  log(`built ${nodeBuilds.map((name) => path.relative(root, nodeBuild(name))).join(", ")} (esbuild)`)
}

const usocketAddon = path.join(usocketPrefix, "node_modules/usocket/build/Release/uwrap.node")

/** usocket is no dependency of this package: the bench installs it once into its build directory. */
const installUsocket = (): string | undefined => {
  if (fs.existsSync(usocketAddon)) return undefined
  log("installing usocket@1.1.0 into bench/.build/usocket (first run only)")
  try {
    fs.mkdirSync(usocketPrefix, { recursive: true })
    run(["npm", "install", "--prefix", usocketPrefix, "--no-audit", "--no-fund", "usocket@1.1.0"])
    if (!fs.existsSync(usocketAddon)) return "npm install usocket@1.1.0 did not build its addon"
    return undefined
  } catch (error) {
    return `npm install usocket@1.1.0 failed: ${String((error as Error).message).split("\n")[0]}`
  }
}

/**
 * The addon files the package's loader would try (native/locate.cjs), or its local build path.
 * Other test runs in a shared checkout delete and rebuild them: wait a while for one to exist.
 */
const waitForAddon = async (): Promise<string | undefined> => {
  const locate = path.join(root, "native/locate.cjs")
  const candidates = (): ReadonlyArray<string> =>
    fs.existsSync(locate)
      ? (createRequire(import.meta.url)(locate) as { candidates: (root: string) => Array<string> }).candidates(root)
      : [path.join(root, "build/Release/unix_socket.node")]
  for (let waited = 0; waited <= 120; waited += 5) {
    const found = candidates().find((file) => fs.existsSync(file))
    if (found !== undefined) return found
    if (waited === 0) log("the native addon is not built (yet): waiting up to 2 minutes (npm run build:native builds it)")
    await new Promise((resolve) => setTimeout(resolve, 5000))
  }
  return undefined
}

const firstLine = (text: string) => text.split("\n")[0]!.trim()

const describeMachine = (): Omit<Machine, "loadAfter"> => {
  const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8")
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown"
  const busy = tryRun(["ps", "-eo", "pcpu,pid,comm", "--sort=-pcpu", "--no-headers"]).split("\n").slice(0, 5).map((l) => l.trim())
  return {
    cpu: model,
    cores: os.cpus().length,
    kernel: `Linux ${os.release()}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    versions: {
      node: process.version,
      bun: firstLine(tryRun([path.join(root, "node_modules/.bin/bun"), "--version"])),
      deno: firstLine(tryRun([path.join(root, "node_modules/.bin/deno"), "--version"])),
      python: firstLine(tryRun(["python3", "--version"])),
      cc: firstLine(tryRun(["cc", "--version"])),
      usocket: fs.existsSync(usocketAddon) ? "1.1.0" : "not installed"
    },
    loadBefore: fs.readFileSync("/proc/loadavg", "utf8").trim(),
    busyBefore: busy
  }
}

// ---------------------------------------------------------------------------------------
// Selecting and running

const parseArguments = (argv: ReadonlyArray<string>) => {
  const timing: { warmup: number; repeat: number; repeats: number } = { warmup: 1000, repeat: 300, repeats: 5 }
  const words: Array<string> = []
  for (const arg of argv) {
    const flag = /^--(warmup|repeat|repeats)=(\d+)$/.exec(arg)
    if (flag !== null) timing[flag[1] as keyof typeof timing] = Number(flag[2])
    else words.push(arg)
  }
  // A contender's exact id wins ("c"), then a part of a case id ("latency"), then of a contender id ("sdk").
  const isContender = (w: string) => contenders.some((c) => c.id === w)
  const modeWords = words.filter((w) => (modes as ReadonlyArray<string>).includes(w))
  const caseWords = words.filter((w) => !isContender(w) && !modeWords.includes(w) && cases.some((c) => c.id.includes(w)))
  const contenderWords = words.filter((w) =>
    isContender(w) || (!caseWords.includes(w) && !modeWords.includes(w) && contenders.some((c) => c.id.includes(w)))
  )
  const unknown = words.filter((w) => !caseWords.includes(w) && !contenderWords.includes(w) && !modeWords.includes(w))
  if (unknown.length > 0) {
    console.error(`unknown words: ${unknown.join(" ")}; cases: ${cases.map((c) => c.id).join(", ")}; contenders: ${contenders.map((c) => c.id).join(", ")}; modes: ${modes.join(", ")}`)
    process.exit(2)
  }
  const matches = (list: ReadonlyArray<string>, id: string) =>
    list.length === 0 || list.some((w) => (isContender(w) ? id === w : id.includes(w)))
  return {
    timing: timing as Timing,
    filtered: words.length > 0,
    selected: (testCase: Case, id: ContenderId, mode: Mode) =>
      matches(caseWords, testCase.id) && matches(contenderWords, id) && (modeWords.length === 0 || modeWords.includes(mode))
  }
}

const format = (n: number): string =>
  !Number.isFinite(n) ? "—" : Math.abs(n) >= 1000 ? Math.round(n).toLocaleString("en-US") : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2)

const main = async () => {
  const { filtered, selected, timing } = parseArguments(process.argv.slice(2))
  const started = performance.now()
  const machine = describeMachine()
  log(`load before the run: ${machine.loadBefore}; busiest processes: ${machine.busyBefore.join(" | ")}`)
  buildReference()
  buildNodeContenders()
  const addon = await waitForAddon()
  if (addon === undefined) {
    console.error("no native addon to load: run `npm run build:native` (or `npm install`) first")
    process.exit(1)
  }
  log(`the SDK loads ${path.relative(root, addon)}`)
  const usocketProblem = installUsocket()
  if (usocketProblem !== undefined) log(`usocket left out: ${usocketProblem}`)

  const rows: Array<Row> = []
  const raw: Array<Results["raw"][number]> = []
  for (const testCase of cases) {
    for (const mode of modes) {
      for (const id of testCase.contenders) {
        if (!selected(testCase, id, mode)) continue
        let outcome: { result?: ClientResult; error?: string }
        if (id === "usocket" && usocketProblem !== undefined) {
          outcome = { error: usocketProblem }
        } else {
          try {
            outcome = { result: await runPair(contender(id), testCase, mode, timing) }
          } catch (error) {
            outcome = { error: String((error as Error).message).slice(0, 1500) }
          }
        }
        raw.push({ case: testCase.id, contender: id, mode, ...outcome })
        const made = rowsOf(testCase, id, mode, outcome)
        rows.push(...made)
        log(`${testCase.id} ${mode} ${id}: ${made.map((r) => r.error !== undefined ? `FAILED: ${r.error}` : `${r.metric} ${format(r.median)} ${r.unit} (${format(r.min)}–${format(r.max)})${r.total === undefined ? "" : ` total ${format(r.total)}`}`).join("; ")}`)
      }
    }
  }
  fillRatios(rows)
  const seconds = (performance.now() - started) / 1000
  const results: Results = {
    generated: new Date().toISOString(),
    command: ["npm run bench", ...process.argv.slice(2)].join(" "),
    machine: { ...machine, loadAfter: fs.readFileSync("/proc/loadavg", "utf8").trim() },
    timing: { warmupMs: timing.warmup, repeatMs: timing.repeat, repeats: timing.repeats },
    seconds,
    rows,
    raw
  }
  const file = filtered ? path.join(buildDir, "results-partial.json") : path.join(benchDir, "results.json")
  fs.writeFileSync(file, JSON.stringify(results, null, 1) + "\n")
  log(`wrote ${path.relative(root, file)}`)
  if (!filtered) {
    writeReport(results)
    log("wrote bench/README.md and bench/chart.svg")
  }
  const failures = rows.filter((r) => r.error !== undefined)
  log(`done in ${(seconds / 60).toFixed(1)} min${failures.length === 0 ? "" : `; ${failures.length} rows FAILED`}`)
}

void main()
