/**
 * Handing live connections to HTTP workers, and a listening socket from one worker to the
 * next under load (examples/http-front.ts and examples/http-swap.ts, as separate processes).
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { type Child, root, spawnScript, succeeded, tempDir } from "../support/helpers.ts"

/** One HTTP GET over the unix socket at `socketPath`, on a connection of its own. */
const get = (socketPath: string) =>
  new Promise<string>((resolve, reject) => {
    const request = http.request({ socketPath, path: "/", agent: false }, (response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => (body += chunk))
      response.on("end", () => resolve(`${response.statusCode} ${body.trim()}`))
    })
    request.on("error", reject)
    request.end()
  })

/**
 * Requests, `concurrency` at a time, for as long as `more(started)` holds (a number: that many);
 * `progress` hears how many have finished.
 */
const load = async (
  socketPath: string,
  more: number | ((started: number) => boolean),
  concurrency: number,
  progress: (done: number) => void = () => {}
) => {
  const goOn = typeof more === "number" ? (started: number) => started < more : more
  const answers = new Map<string, number>()
  const errors: Array<string> = []
  let started = 0
  let finished = 0
  const client = async () => {
    while (goOn(started)) {
      started++
      try {
        const answer = await get(socketPath)
        answers.set(answer, (answers.get(answer) ?? 0) + 1)
      } catch (error) {
        errors.push(String(error))
      }
      progress(++finished)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client))
  return { answers, errors }
}

const fdCount = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length

describe("HTTP on handed-over sockets (Node.js)", () => {
  it("the README prints examples/http-front.ts and examples/http-swap.ts as they are", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    for (const file of ["http-front.ts", "http-swap.ts"]) {
      expect(readme).toContain("```ts\n" + fs.readFileSync(path.join(root, "examples", file), "utf8") + "```")
    }
  })

  it("a front process hands each accepted connection to a worker process, which serves HTTP on it", async () => {
    const dir = tempDir()
    const example = path.join(root, "examples/http-front.ts")
    const front = spawnScript(example, ["front", `${dir}/http.sock`, `${dir}/workers.sock`])
    const workers: Array<Child> = []
    try {
      await front.waitFor("waiting for workers")
      for (let i = 0; i < 2; i++) {
        const worker = spawnScript(example, ["worker", `${dir}/workers.sock`])
        workers.push(worker)
        await worker.waitFor("ready")
      }
      await front.waitFor("listening")
      await load(`${dir}/http.sock`, 50, 5) // warm up: the front's own descriptors settle
      const before = fdCount(front.pid)
      const { answers, errors } = await load(`${dir}/http.sock`, 1000, 10)
      expect(errors).toEqual([])
      expect([...answers.keys()].sort()).toEqual(workers.map((w) => `200 served by worker ${w.pid}`).sort())
      expect([...answers.values()].reduce((a, b) => a + b)).toBe(1000)
      expect(fdCount(front.pid)).toBe(before) // the front kept no copy of any connection
    } finally {
      for (const child of [front, ...workers]) child.kill("SIGTERM")
      await Promise.all([front, ...workers].map((child) => child.exited))
    }
  })

  for (const runtime of ["node", "deno"] as const) {
    it(`a new worker takes the listening socket over from the old one under load (10,000 requests or more), refusing none (workers on ${runtime})`, async () => {
      const dir = tempDir()
      const example = path.join(root, "examples/http-swap.ts")
      const args = [`${dir}/http.sock`, `${dir}/handover.sock`]
      const old = spawnScript(example, args, { runtime })
      await old.waitFor("serving")
      let successor: Child | undefined
      let done = 0
      // The load goes on until the successor has taken over and 1,000 more requests have
      // started: however slowly it starts, it serves some. 100,000 bounds a successor that never does.
      let stopAt = 100_000
      const { answers, errors } = await load(`${dir}/http.sock`, (started) => started < Math.max(10_000, stopAt), 16, (n) => {
        done = n
        if (n !== 2000) return
        successor = spawnScript(example, args, { runtime }) // the upgrade, mid-load
        successor.waitFor("took the listening socket over").then(() => (stopAt = done + 1000), () => (stopAt = 0))
      })
      try {
        expect(errors).toEqual([])
        expect(answers.get(`200 served by worker ${old.pid}`)).toBeGreaterThanOrEqual(2000)
        expect(answers.get(`200 served by worker ${successor!.pid}`) ?? 0).toBeGreaterThanOrEqual(1000 - 16)
        expect([...answers.values()].reduce((a, b) => a + b)).toBe(Math.max(10_000, stopAt))
        const stdout = await succeeded(old) // it finished what it had started, and left
        expect(stdout).toContain("handed over; finishing the requests in flight")
        expect(successor!.output()).toContain(`took the listening socket over from pid ${old.pid}`)
      } finally {
        successor?.kill("SIGTERM")
        await successor?.exited
      }
    })
  }
})
