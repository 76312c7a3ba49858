#!/usr/bin/env node
// `npm test`: type checks, then the Node suite (vitest), the Bun suite (the real `bun test`)
// and the Deno suite (the real `deno test`, with the permission flags a user passes). Prints
// the test counts of each runtime and a total; exits non-zero if anything failed.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => path.join(root, "node_modules/.bin", name)
const denoFlags = ["--allow-ffi", "--allow-read", "--allow-write", "--allow-run", "--allow-env", "--allow-sys"]

const steps = [
  { name: "tsc", argv: [bin("tsc"), "--noEmit"] },
  { name: "deno check", argv: [bin("deno"), "check", "src/index.ts", "adapters/deno/index.ts", "adapters/promise/index.ts", "examples/quickstart-deno.ts", "bench/deno-native.ts"] },
  {
    name: "node",
    argv: [bin("vitest"), "run"],
    count: (out) => /^node: (\d+) passed, (\d+) failed/m.exec(out)
  },
  {
    name: "bun",
    argv: [bin("bun"), "test", "./test/bun/", "--timeout", "60000"],
    count: (out) => {
      const pass = /^ *(\d+) pass$/m.exec(out)
      const fail = /^ *(\d+) fail$/m.exec(out)
      return pass && fail ? [null, pass[1], fail[1]] : null
    }
  },
  {
    name: "deno",
    argv: [bin("deno"), "test", ...denoFlags, "test/deno/"],
    count: (out) => /(\d+) passed \| (\d+) failed/.exec(out)
  }
]

const run = (step) =>
  new Promise((resolve) => {
    console.log(`\n=== ${step.name}: ${step.argv.map((a) => path.relative(root, a) || a).join(" ")}`)
    const child = spawn(step.argv[0], step.argv.slice(1), {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }
    })
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      process.stdout.write(chunk)
    })
    child.stderr.on("data", (chunk) => {
      output += chunk
      process.stderr.write(chunk)
    })
    child.on("close", (code) => resolve({ code, output }))
  })

const results = []
let failed = false
for (const step of steps) {
  const { code, output } = await run(step)
  if (code !== 0) failed = true
  if (step.count !== undefined) {
    const match = step.count(output)
    results.push({ name: step.name, passed: match ? Number(match[1]) : 0, failed: match ? Number(match[2]) : 0, code })
  } else if (code !== 0) {
    console.error(`${step.name} failed (exit ${code})`)
  }
}

console.log("\n=== tests per runtime")
for (const r of results) console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed${r.code !== 0 ? ` (exit ${r.code})` : ""}`)
const total = results.reduce((sum, r) => ({ passed: sum.passed + r.passed, failed: sum.failed + r.failed }), { passed: 0, failed: 0 })
if (failed && total.failed === 0) total.failed = 1 // a step failed outside any test count
console.log(`${total.passed} passed, ${total.failed} failed`)
process.exit(failed ? 1 : 0)
