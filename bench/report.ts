/**
 * bench/README.md and bench/chart.svg, generated from a run's results (so they always agree
 * with bench/results.json). `npm run bench` calls this at the end; to regenerate from the last
 * results.json alone: `node --import tsx bench/report.ts`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { diagnoses, findings } from "./analysis.ts"
import { benchDir, type Case, cases, contender, type ContenderId, type Metric, type Mode, modes } from "./matrix.ts"
import type { Results, Row } from "./results.ts"
import { type Check, checkTargets, type TargetId, targetTitles } from "./targets.ts"

// ---------------------------------------------------------------------------------------
// Numbers

const digits = (n: number): string => {
  if (!Number.isFinite(n)) return "—"
  const a = Math.abs(n)
  if (a >= 1000) return Math.round(n).toLocaleString("en-US")
  if (a >= 100) return n.toFixed(0)
  if (a >= 10) return n.toFixed(1)
  if (a >= 0.01 || a === 0) return n.toFixed(2)
  return n.toPrecision(2)
}

const ratioText = (ratio: number | null): string => ratio === null ? "—" : `${digits(ratio)}×`

const signed = (n: number): string => `${n > 0 ? "+" : n < 0 ? "−" : ""}${digits(Math.abs(n))}`

/** How a row compares with C when higher is better for everyone: C = 1, above 1 beats C. */
const relative = (row: Row): number | null =>
  row.ratio === null || row.ratio <= 0 ? null : row.better === "higher" ? row.ratio : 1 / row.ratio

const rowOf = (rows: ReadonlyArray<Row>, testCase: Case, metric: Metric, id: ContenderId, mode: Mode): Row | undefined =>
  rows.find((r) => r.case === testCase.id && r.metric === metric.id && r.contender === id && r.mode === mode)

// ---------------------------------------------------------------------------------------
// Chart

const colors: Record<ContenderId, string> = {
  "c": "#555555",
  "sdk-node": "#2f6fd0",
  "sdk-bun": "#8a4fd8",
  "sdk-deno": "#12a077",
  "node-net": "#9dbdf0",
  "bun-native": "#cdb4f2",
  "deno-native": "#94dcc3",
  "python": "#e0a11b",
  "usocket": "#d9534f"
}

/** The ratio a panel's target asks of the SDK, in the chart's "C = 1, higher is better" scale. */
const chartTargets: Record<string, number> = {
  "latency-stream/rtt": 1 / 1.3,
  "latency-seqpacket/rtt": 1 / 1.3,
  "throughput/throughput": 0.8,
  "fds-1/rate": 0.5,
  "fds-16/rate": 0.5,
  "accept/rate": 0.5
}

const escapeXml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/**
 * One panel per timed case and metric: a bar per contender, pinned (solid) and unpinned
 * (pale), on a log scale of performance relative to the C reference of the same run and mode
 * (C = 1; higher is better whether the metric is a time or a rate).
 */
export const chart = (results: Results): string => {
  const panels = cases.filter((c) => c.kind === "timed").flatMap((testCase) => testCase.metrics.map((metric) => ({ testCase, metric })))
  const values = results.rows.filter((r) => cases.find((c) => c.id === r.case)?.kind === "timed").map(relative).filter((v): v is number => v !== null)
  const low = Math.pow(10, Math.floor(Math.log10(Math.max(Math.min(...values, 1), 1e-3))))
  const high = Math.pow(10, Math.ceil(Math.log10(Math.min(Math.max(...values, 1), 1e3))))
  const width = 980
  const left = 190
  const right = width - 70
  const x = (v: number) => left + ((Math.log10(v) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (right - left)
  const bar = 7
  const rowHeight = 2 * bar + 6
  const out: Array<string> = []
  let y = 70
  const ticks: Array<number> = []
  for (let decade = low; decade <= high; decade *= 10) for (const m of [1, 2, 5]) if (decade * m <= high) ticks.push(decade * m)
  for (const { metric, testCase } of panels) {
    const ids = testCase.contenders
    out.push(`<text x="10" y="${y + 12}" font-weight="bold">${escapeXml(`${testCase.title} — ${metric.title}`)}</text>`)
    y += 20
    const plotTop = y
    for (const id of ids) {
      out.push(`<text x="${left - 8}" y="${y + bar + 4}" text-anchor="end">${escapeXml(contender(id).label)}</text>`)
      modes.forEach((mode, i) => {
        const row = rowOf(results.rows, testCase, metric, id, mode)
        const value = row === undefined ? null : relative(row)
        const by = y + i * (bar + 1)
        if (value === null) {
          out.push(`<text x="${left + 4}" y="${by + bar}" font-size="9" fill="#999">${row?.error !== undefined ? "failed" : "n/a"}</text>`)
          return
        }
        const end = x(Math.min(Math.max(value, low), high))
        out.push(`<rect x="${left}" y="${by}" width="${Math.max(end - left, 1).toFixed(1)}" height="${bar}" fill="${colors[id]}" fill-opacity="${mode === "pinned" ? 1 : 0.4}"/>`)
        out.push(`<text x="${(end + 4).toFixed(1)}" y="${by + bar - 0.5}" font-size="9" fill="#333">${digits(value)}</text>`)
      })
      y += rowHeight
    }
    for (const tick of ticks) {
      out.push(`<line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${plotTop - 2}" y2="${y - 4}" stroke="${tick === 1 ? "#333" : "#ddd"}" stroke-width="${tick === 1 ? 1.2 : 0.6}"/>`)
    }
    const target = chartTargets[`${testCase.id}/${metric.id}`]
    if (target !== undefined) {
      out.push(`<line x1="${x(target).toFixed(1)}" x2="${x(target).toFixed(1)}" y1="${plotTop - 2}" y2="${y - 4}" stroke="#d62728" stroke-dasharray="4 3" stroke-width="1.2"/>`)
    }
    y += 14
  }
  const axisY = y
  for (const tick of ticks) {
    out.push(`<text x="${x(tick).toFixed(1)}" y="${axisY}" text-anchor="middle" font-size="10">${tick >= 1 ? tick : tick.toString()}×</text>`)
  }
  const height = axisY + 30
  const header = [
    `<text x="10" y="22" font-size="15" font-weight="bold">npm run bench: performance relative to the C reference (C = 1×, log scale, higher is better)</text>`,
    `<text x="10" y="40" font-size="11">Times (latency, p99) are shown as C's time / contender's time; rates as contender's rate / C's rate. Solid bars: both processes pinned to one core; pale bars: unpinned.</text>`,
    `<text x="10" y="55" font-size="11">Red dashed line: the SDK's target. ${escapeXml(results.generated.slice(0, 16).replace("T", " "))} UTC, ${escapeXml(results.machine.cpu)}, ${results.machine.cores} cores.</text>`
  ]
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...header,
    ...out,
    `<text x="${(left + right) / 2}" y="${axisY + 18}" text-anchor="middle" font-size="11">relative to C (same run, same mode)</text>`,
    `</svg>`,
    ""
  ].join("\n")
}

// ---------------------------------------------------------------------------------------
// README

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

const timedTable = (results: Results, testCase: Case, metric: Metric): string => {
  const head = [
    `| ${metric.title} (${metric.unit}, ${metric.better} is better) | pinned: median | min – max | × C | unpinned: median | min – max | × C |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  ]
  const lines = testCase.contenders.map((id) => {
    const cells = modes.flatMap((mode) => {
      const row = rowOf(results.rows, testCase, metric, id, mode)
      if (row === undefined) return ["not run", "", ""]
      if (row.error !== undefined) return ["**failed**", "", ""]
      return [digits(row.median), `${digits(row.min)} – ${digits(row.max)}`, ratioText(row.ratio)]
    })
    return `| ${cell(contender(id).label)} | ${cells.join(" | ")} |`
  })
  return [...head, ...lines].join("\n")
}

const memoryTable = (results: Results, testCase: Case): string => {
  const perConnection = testCase.workload === "idle"
  const [rss, fds] = testCase.metrics as [Metric, Metric]
  const totalTitle = perConnection ? "at 10,000 connections, per connection" : "from the start to the 1,000,000th message"
  const head = [
    `| contender | ${modes.map((m) => `${m}: RSS ${totalTitle} (${rss.unit}) | steps: median (min – max) | × C | descriptors (${fds.unit}${perConnection ? " per connection" : ""})`).join(" | ")} |`,
    `| --- | ${modes.map(() => "---: | ---: | ---: | ---:").join(" | ")} |`
  ]
  const lines = testCase.contenders.map((id) => {
    const cells = modes.flatMap((mode) => {
      const r = rowOf(results.rows, testCase, rss, id, mode)
      const f = rowOf(results.rows, testCase, fds, id, mode)
      if (r === undefined || f === undefined) return ["not run", "", "", ""]
      if (r.error !== undefined) return ["**failed**", "", "", ""]
      const total = perConnection ? digits(r.total ?? Number.NaN) : signed(r.total ?? Number.NaN)
      return [total, `${digits(r.median)} (${digits(r.min)} – ${digits(r.max)})`, ratioText(r.ratio), perConnection ? digits(f.total ?? Number.NaN) : signed(f.total ?? Number.NaN)]
    })
    return `| ${cell(contender(id).label)} | ${cells.join(" | ")} |`
  })
  return [...head, ...lines].join("\n")
}

const failures = (results: Results): string => {
  const failed = results.raw.filter((r) => r.error !== undefined)
  if (failed.length === 0) return "Every run finished."
  return [
    "Runs that failed (their rows show **failed**):",
    "",
    ...failed.map((r) => `- ${r.case} ${r.mode} ${r.contender}: \`${cell(r.error!.split("\n")[0]!.slice(0, 300))}\``)
  ].join("\n")
}

const verdict = (met: boolean | undefined): string => met === undefined ? "not measured" : met ? "met" : "**missed**"

const targetSection = (checks: ReadonlyArray<Check>): string => {
  const ids = Object.keys(targetTitles) as Array<TargetId>
  return ids.map((id) => {
    const mine = checks.filter((c) => c.target === id)
    const allMet = mine.every((c) => c.met === true)
    const lines = mine.map((c) => `| ${c.runtime} | ${cell(c.what)} | ${verdict(c.met)} | ${cell(c.detail)} |`)
    const why = allMet ? "" : `\n\n${diagnoses[id]}`
    return [
      `### ${targetTitles[id]}: ${allMet ? "met" : "**missed**"}`,
      "",
      "| runtime | check (pinned) | result | measured |",
      "| --- | --- | --- | --- |",
      ...lines
    ].join("\n") + why
  }).join("\n\n")
}

const minutes = (seconds: number): string => `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`

export const readme = (results: Results): string => {
  const m = results.machine
  const checks = checkTargets(results.rows)
  const missed = checks.filter((c) => c.met === false).length
  const timing = results.timing
  return `<!-- Generated by bench/report.ts from bench/results.json at the end of \`npm run bench\`. Do not edit. -->
# Benchmarks

\`npm run bench\` measures this package (the SDK) against a C reference doing the same work with
raw syscalls, against each runtime's own Unix socket API, against Python's \`socket\` module and
against usocket (npm), on six workloads, both ends pinned to one core and unpinned, in one run.
Last run: ${results.generated.slice(0, 16).replace("T", " ")} UTC, ${minutes(results.seconds)} in all. Of ${checks.length} target checks, ${checks.length - missed - checks.filter((c) => c.met === undefined).length} were met and ${missed} missed (see [Targets](#targets)).

![Performance relative to the C reference, per workload and contender](chart.svg)

## How to run it

\`\`\`sh
npm run bench                                # the full run: rewrites results.json, README.md and chart.svg
npm run bench -- latency sdk-node pinned     # only what matches (case, contender and mode words); results in bench/.build/results-partial.json
npm run bench -- --warmup=1000 --repeat=300 --repeats=5  # the timing of timed cases (these are the defaults)
node --import tsx bench/report.ts            # regenerate README.md and chart.svg from results.json
\`\`\`

It needs what \`npm install\` needs (the addon built) plus \`cc\`, \`python3\`, \`taskset\` and
\`npm\`. It compiles the C reference (\`cc -O2 bench/reference/*.c\`) and the Node.js contenders
(esbuild, one ES module each, as the package's own build compiles it) into \`bench/.build/\` on
every run and, on the first run, installs usocket@1.1.0 into \`bench/.build/usocket/\` (\`npm install
--prefix\`; it builds with node-gyp). \`bench/.build/\` is not part of the repository. The full run
takes about ${Math.round(results.seconds / 60)} minutes on the machine below; run it on an idle machine, since every
contender is timed on the same cores.

## Machine

| | |
| --- | --- |
| CPU | ${cell(m.cpu)}, ${m.cores} cores (\`/proc/cpuinfo\`) |
| Kernel | ${cell(m.kernel)} |
| Memory | ${m.memory} |
| Node.js | ${cell(m.versions["node"] ?? "")} |
| Bun | ${cell(m.versions["bun"] ?? "")} |
| Deno | ${cell(m.versions["deno"] ?? "")} |
| Python | ${cell(m.versions["python"] ?? "")} |
| C compiler | ${cell(m.versions["cc"] ?? "")} |
| usocket | ${cell(m.versions["usocket"] ?? "")} |
| Load before the run | \`${m.loadBefore}\` (/proc/loadavg); busiest processes (%CPU pid command): ${cell(m.busyBefore.join("; "))} |
| Load after the run | \`${m.loadAfter}\` |

## Method

- **Processes.** Each contender's server and client are two separate OS processes started by
  the runner (\`bench/pair.ts\`), parameters on the command line; both start at once, the client
  is told "go" on stdin when the server listens, and prints its result as one JSON line. Socket
  files live in a fresh directory under /tmp for each run.
- **Pinned and unpinned.** Every case runs twice per contender: both processes under \`taskset -c
  0\` (one core: wake-ups are context switches on that core), and under \`taskset -c 0-${m.cores - 1}\`
  (the scheduler places them; on this machine a wake-up across cores costs far more than a
  context switch). Targets are checked on the pinned runs.
- **Repeats.** A timed case warms up for ${timing.warmupMs} ms, then measures ${timing.repeats} time-boxed repeats of
  ${timing.repeatMs} ms each in the same pair of processes; the tables give the median of the repeats, their
  min and max. Memory cases take 5 steps; the steps are their repeats.
- **Ratios.** "× C" is the median divided by the C reference's median in the same run and
  mode: for times (latency, p99) below 1 is better than C, for rates above 1 is.
- **Memory** is measured from outside: at each step the server, once it has accepted and
  received everything the step sent, collects its garbage (\`--expose-gc\` in Node.js and Deno,
  \`Bun.gc(true)\`, \`gc.collect()\` in Python) and answers; the client then announces the step and
  the runner reads \`VmRSS\` from \`/proc/<server pid>/status\` and counts \`/proc/<server pid>/fd\`
  while the server sits idle. (Deno may not read /proc without \`--allow-all\`.) The client
  starts 1.5 s after the server is ready, so what a runtime sets up by itself just after it
  starts is part of the first sample, not of the growth.

## Contenders

| contender | what runs |
| --- | --- |
${results.rows.length === 0 ? "" : [...new Set(cases.flatMap((c) => c.contenders))].map((id) => `| ${contender(id).label} | ${cell(contender(id).about)} |`).join("\n")}

## Workloads and results

${
    cases.map((testCase) => {
      const tables = testCase.kind === "timed"
        ? testCase.metrics.map((metric) => timedTable(results, testCase, metric)).join("\n\n")
        : memoryTable(results, testCase)
      return `### ${testCase.title}\n\n${testCase.about}\n\n${tables}`
    }).join("\n\n")
  }

${failures(results)}

## Targets

Checked on the pinned runs of this run (ratios within the same run).

${targetSection(checks)}

## What limits the SDK

${findings}
`
}

/** Writes bench/README.md and bench/chart.svg for `results`. */
export const writeReport = (results: Results): void => {
  fs.writeFileSync(path.join(benchDir, "chart.svg"), chart(results))
  fs.writeFileSync(path.join(benchDir, "README.md"), readme(results))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeReport(JSON.parse(fs.readFileSync(path.join(benchDir, "results.json"), "utf8")) as Results)
  console.log("wrote bench/README.md and bench/chart.svg from bench/results.json")
}
