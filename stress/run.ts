/**
 * `npm run stress`: the reliability suite. Real sockets, real processes, no mocks.
 *
 * Each scenario (one file each in stress/) starts its own server and peers as separate
 * processes, measures them from /proc, checks its invariants and prints figures as it goes.
 * At the end the runner prints a Markdown table of what was tried and what held, writes it
 * with one paragraph per scenario to stress/results.md (full runs only), and exits 1 if any
 * invariant broke.
 *
 * `npm run stress -- fuzz kill` runs only the scenarios whose names contain one of the words.
 * `STRESS_SEED=<n>` replays the fuzz scenario's sequences; `STRESS_FUZZ_RUNS=<n>` changes
 * how many there are.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeUnix from "../adapters/node/index.ts"
import { backpressure } from "./backpressure.ts"
import { emfile } from "./emfile.ts"
import { fdFlood } from "./fd-flood.ts"
import { fuzz } from "./fuzz.ts"
import { ignoredFds } from "./ignored-fds.ts"
import { killMidFrame } from "./kill.ts"
import { load } from "./load.ts"
import { oversize } from "./oversize.ts"
import { failureText, Findings, type Scenario, secs, stressDir } from "./support.ts"
import { vanish } from "./vanish.ts"

const scenarios: ReadonlyArray<Scenario> = [fuzz, oversize, fdFlood, killMidFrame, load, backpressure, ignoredFds, emfile, vanish]

/** A scenario that has not finished after this long is stuck: that is a finding too. */
const SCENARIO_LIMIT_MS = 6 * 60_000

interface Result {
  readonly scenario: Scenario
  readonly findings: Findings
  readonly ms: number
}

const runOne = async (scenario: Scenario): Promise<Result> => {
  const findings = new Findings(scenario.name)
  findings.log("starting")
  const start = performance.now()
  const exit = await Effect.runPromiseExit(
    scenario.run(findings).pipe(Effect.scoped, Effect.timeout(SCENARIO_LIMIT_MS), Effect.provide(NodeUnix.layer))
  )
  if (exit._tag === "Failure") findings.broken.push(`the scenario could not finish: ${failureText(exit)}`)
  const ms = performance.now() - start
  findings.log(`${findings.broken.length === 0 ? "held" : "BROKEN"} (${secs(ms)} s)`)
  return { scenario, findings, ms }
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

const table = (results: ReadonlyArray<Result>): string => {
  const rows = results.map(({ findings, ms, scenario }) => {
    const broken = findings.broken.map((b) => `**BROKEN:** ${b}`)
    return `| ${cell(scenario.title)} | ${cell(findings.tried)} | ${cell(`${findings.amount}; ${secs(ms)} s`)} | ${
      cell([...broken, ...findings.held].join("; "))
    } |`
  })
  return ["| scenario | what was tried | how many times / how much | what held |", "| --- | --- | --- | --- |", ...rows].join("\n")
}

const paragraphs = (results: ReadonlyArray<Result>): string =>
  results.map(({ findings, scenario }) => {
    const verdict = findings.broken.length === 0
      ? ""
      : `\n\n**Broken in this run:** ${findings.broken.join(" ")}`
    return `**${scenario.title}.** ${scenario.about}${verdict}`
  }).join("\n\n")

const main = async () => {
  const filters = process.argv.slice(2)
  const selected = filters.length === 0 ? scenarios : scenarios.filter((s) => filters.some((f) => s.name.includes(f)))
  if (selected.length === 0) {
    console.error(`no scenario matches ${filters.join(" ")}; scenarios: ${scenarios.map((s) => s.name).join(", ")}`)
    process.exit(2)
  }
  const start = performance.now()
  const results: Array<Result> = []
  for (const scenario of selected) results.push(await runOne(scenario))
  const total = performance.now() - start
  const machine = `Linux ${os.release()}, ${os.cpus().length} cores, Node.js ${process.version}`
  const markdown = [
    `<!-- npm run stress, ${new Date().toISOString().slice(0, 10)}: ${machine}; ${secs(total)} s in all -->`,
    `\`npm run stress\` runs ${selected.length} scenarios against real sockets and real processes (no mocks), ` +
    `measuring every server and peer from /proc (descriptors, resident memory, CPU time). ` +
    `On ${machine} the whole suite took ${(total / 60_000).toFixed(1)} minutes.`,
    "",
    table(results),
    "",
    paragraphs(results),
    ""
  ].join("\n")
  console.log(`\n${markdown}`)
  if (filters.length === 0) {
    fs.writeFileSync(path.join(stressDir, "results.md"), markdown)
    console.log(`written to stress/results.md`)
  } else {
    console.log("(a filtered run: stress/results.md left as it was)")
  }
  const broken = results.filter((r) => r.findings.broken.length > 0)
  console.log(broken.length === 0 ? "all invariants held" : `BROKEN: ${broken.map((r) => r.scenario.name).join(", ")}`)
  process.exit(broken.length === 0 ? 0 : 1)
}

void main()
