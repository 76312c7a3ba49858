/**
 * The demo behind `npm start`: superd and romd as separate OS processes.
 *
 * 1. superd listens on a socket in a fresh directory, trusting only its own uid (and root).
 * 2. romd (same uid) connects, receives an open descriptor of a file superd opened, and reads
 *    the file through it.
 * 3. An intruder romd running as uid 65534 (nobody) connects; superd refuses it before reading
 *    a byte, and says so. (Starting a process under another uid needs root.)
 * 4. superd gets SIGTERM, closes its listener and removes the socket file.
 *
 * Exits 0 when all of that happened, 1 otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "superd-demo-"))
fs.chmodSync(dir, 0o755) // let the intruder (another uid) reach the socket file
const socketPath = path.join(dir, "superd.sock")
const file = path.join(dir, "motd.txt")
fs.writeFileSync(file, `Hello from superd: this file was opened by pid ${process.pid}'s child and handed over open.\n`)

const problems: Array<string> = []
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`)
  if (!ok) problems.push(what)
}

interface Run {
  readonly child: ChildProcess
  output: string
  readonly done: Promise<number | null>
}

const start = (script: string, args: Array<string>, uid?: number): Run => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, script), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(uid === undefined ? {} : { uid, gid: uid })
  })
  const run: Run = {
    child,
    output: "",
    done: new Promise((resolve) => child.on("close", (code) => resolve(code)))
  }
  const relay = (chunk: Buffer) => {
    run.output += chunk.toString()
    process.stdout.write(chunk)
  }
  child.stdout!.on("data", relay)
  child.stderr!.on("data", relay)
  return run
}

const waitFor = async (run: Run, text: string) => {
  for (let i = 0; i < 200 && !run.output.includes(text); i++) await new Promise((r) => setTimeout(r, 50))
  return run.output.includes(text)
}

const superd = start("superd.ts", [socketPath, file])
check(await waitFor(superd, "listening"), "superd is listening")

const romd = start("romd.ts", [socketPath])
check((await romd.done) === 0, "romd exited 0")
check(romd.output.includes("read through the received descriptor: \"Hello from superd"), "romd read the file through the received descriptor")
check(await waitFor(superd, "says: read"), "superd heard back from romd")

if (process.getuid?.() === 0) {
  const intruder = start("romd.ts", [socketPath], 65534)
  check((await intruder.done) === 3, "the uid-65534 intruder got nothing and exited 3")
  check(await waitFor(superd, "REFUSED"), "superd refused the intruder and said so")
  check(superd.output.includes(`REFUSED pid ${intruder.child.pid} uid 65534`), "superd named the intruder's pid and uid")
} else {
  check(false, "the refusal step needs root, to start the intruder as uid 65534 (run npm start as root)")
}

superd.child.kill("SIGTERM")
check((await superd.done) === 0, "superd exited 0 on SIGTERM")
check(!fs.existsSync(socketPath), "superd removed its socket file")
fs.rmSync(dir, { recursive: true, force: true })

console.log(problems.length === 0 ? "\ndemo: everything happened as described" : `\ndemo: ${problems.length} step(s) failed`)
process.exit(problems.length === 0 ? 0 : 1)
