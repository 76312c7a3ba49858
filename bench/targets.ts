/**
 * The benchmark issue's targets, checked against one run's pinned rows: each check says met or
 * missed, with the numbers it compared.
 */
import type { ContenderId } from "./matrix.ts"
import type { Row } from "./results.ts"

export type TargetId = "latency" | "throughput" | "fds" | "accept" | "idle-memory" | "message-memory"

export interface Check {
  readonly target: TargetId
  readonly runtime: "node" | "bun" | "deno"
  readonly what: string
  /** undefined when a number it needs is missing (a failed run). */
  readonly met: boolean | undefined
  readonly detail: string
}

export const targetTitles: Record<TargetId, string> = {
  "latency": "Latency ≤ 1.3× C, and lower than the runtime's own Unix socket API, in every runtime",
  "throughput": "Throughput ≥ 0.8× C and ≥ 1.0× the runtime's own Unix socket API",
  "fds": "Descriptor hand-off rate ≥ 0.5× C, above Python, and above usocket",
  "accept": "Accept-with-credentials rate ≥ 0.5× C",
  "idle-memory": "Idle connection memory no worse than the runtime's own Unix socket API",
  "message-memory": "No growth in descriptors, and RSS growth under 20 MB, over 1,000,000 messages"
}

const runtimes = ["node", "bun", "deno"] as const
const native: Record<(typeof runtimes)[number], ContenderId> = { node: "node-net", bun: "bun-native", deno: "deno-native" }
const nativeLabel: Record<(typeof runtimes)[number], string> = { node: "node:net", bun: "Bun.listen", deno: "Deno.listen" }

const digits = (n: number): string =>
  Math.abs(n) >= 1000 ? Math.round(n).toLocaleString("en-US") : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2)

/** Checks every target in every runtime from the pinned rows of a run. */
export const checkTargets = (rows: ReadonlyArray<Row>): Array<Check> => {
  const find = (testCase: string, metric: string, contender: ContenderId): Row | undefined =>
    rows.find((r) => r.case === testCase && r.metric === metric && r.contender === contender && r.mode === "pinned" && r.error === undefined)
  const value = (row: Row | undefined) => row === undefined ? Number.NaN : row.total ?? row.median
  const checks: Array<Check> = []
  const add = (target: TargetId, runtime: (typeof runtimes)[number], what: string, met: boolean | undefined, detail: string) =>
    checks.push({ target, runtime, what, met, detail })
  /** `sdk` compared with `other` through `holds`, with the measured ratio in the detail. */
  const compare = (
    target: TargetId,
    runtime: (typeof runtimes)[number],
    testCase: string,
    metric: string,
    other: ContenderId,
    otherLabel: string,
    holds: (ratio: number) => boolean,
    need: string
  ) => {
    const sdk = find(testCase, metric, `sdk-${runtime}` as ContenderId)
    const them = find(testCase, metric, other)
    const ratio = value(sdk) / value(them)
    const unit = sdk?.unit ?? them?.unit ?? ""
    const met = Number.isFinite(ratio) ? holds(ratio) : undefined
    add(
      target,
      runtime,
      `${testCase}: ${need}`,
      met,
      `${digits(value(sdk))} ${unit} vs ${otherLabel} ${digits(value(them))} ${unit}: ${Number.isFinite(ratio) ? `${digits(ratio)}×` : "n/a"}`
    )
  }
  for (const runtime of runtimes) {
    for (const testCase of ["latency-stream", "latency-seqpacket"]) {
      compare("latency", runtime, testCase, "rtt", "c", "C", (r) => r <= 1.3, "≤ 1.3× C")
    }
    compare("latency", runtime, "latency-stream", "rtt", native[runtime], nativeLabel[runtime], (r) => r < 1, `< ${nativeLabel[runtime]}`)
    compare("throughput", runtime, "throughput", "throughput", "c", "C", (r) => r >= 0.8, "≥ 0.8× C")
    compare("throughput", runtime, "throughput", "throughput", native[runtime], nativeLabel[runtime], (r) => r >= 1, `≥ 1.0× ${nativeLabel[runtime]}`)
    for (const testCase of ["fds-1", "fds-16"]) {
      compare("fds", runtime, testCase, "rate", "c", "C", (r) => r >= 0.5, "≥ 0.5× C")
      compare("fds", runtime, testCase, "rate", "python", "Python", (r) => r > 1, "> Python")
      compare("fds", runtime, testCase, "rate", "usocket", "usocket", (r) => r > 1, "> usocket")
    }
    compare("accept", runtime, "accept", "rate", "c", "C", (r) => r >= 0.5, "≥ 0.5× C")
    compare("idle-memory", runtime, "idle", "rss", native[runtime], nativeLabel[runtime], (r) => r <= 1, `RSS per connection ≤ ${nativeLabel[runtime]}`)
    compare("idle-memory", runtime, "idle", "fds", native[runtime], nativeLabel[runtime], (r) => r <= 1, `descriptors per connection ≤ ${nativeLabel[runtime]}`)
    const fds = find("messages", "fds", `sdk-${runtime}` as ContenderId)
    const rss = find("messages", "rss", `sdk-${runtime}` as ContenderId)
    add(
      "message-memory",
      runtime,
      "messages: descriptor growth = 0",
      fds === undefined ? undefined : value(fds) === 0,
      `${fds === undefined ? "n/a" : `${value(fds) >= 0 ? "+" : ""}${value(fds)}`} descriptors from the start to the 1,000,000th message`
    )
    add(
      "message-memory",
      runtime,
      "messages: RSS growth < 20 MB",
      rss === undefined ? undefined : value(rss) * 1024 * 1024 < 20e6,
      `${rss === undefined ? "n/a" : `${value(rss) >= 0 ? "+" : ""}${digits(value(rss))} MiB`} from the start to the 1,000,000th message`
    )
  }
  return checks
}
