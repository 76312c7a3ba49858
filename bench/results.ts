/**
 * The shape of bench/results.json and how a client's result line becomes the numbers in it:
 * one row per case, metric, contender and mode, with the value of each repeat, their median,
 * min and max, and the ratio of the median to the C reference's median in the same run.
 */
import type { Better, Case, ContenderId, Metric, Mode } from "./matrix.ts"
import type { ClientResult } from "./pair.ts"

export interface Row {
  readonly case: string
  readonly metric: string
  readonly contender: ContenderId
  readonly mode: Mode
  readonly unit: string
  readonly better: Better
  /** One value per repeat (memory cases: per step). */
  readonly values: ReadonlyArray<number>
  readonly median: number
  readonly min: number
  readonly max: number
  /** Memory cases: the whole run (from the start to the last step). */
  readonly total?: number
  /** median / the C reference's median in the same mode (null without a usable C value). */
  ratio: number | null
  readonly error?: string
}

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly kernel: string
  readonly memory: string
  readonly versions: Readonly<Record<string, string>>
  /** /proc/loadavg and the busiest other processes, just before the run. */
  readonly loadBefore: string
  readonly busyBefore: ReadonlyArray<string>
  readonly loadAfter: string
}

export interface Results {
  readonly generated: string
  readonly command: string
  readonly machine: Machine
  readonly timing: { readonly warmupMs: number; readonly repeatMs: number; readonly repeats: number }
  readonly seconds: number
  readonly rows: ReadonlyArray<Row>
  /** Every client's result line as printed, for anyone who wants to recompute. */
  readonly raw: ReadonlyArray<{ readonly case: string; readonly contender: ContenderId; readonly mode: Mode; readonly result?: ClientResult; readonly error?: string }>
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const MiB = 1024 * 1024

/** The value of one repeat of a timed case. */
const timedValue = (testCase: Case, metric: Metric, repeat: NonNullable<ClientResult["repeats"]>[number]): number => {
  const seconds = repeat.ms / 1000
  switch (metric.id) {
    case "rtt":
      return (repeat.ms * 1000) / repeat.ops
    case "throughput":
      return (repeat.ops * Number(testCase.params["size"])) / seconds / MiB
    case "p99":
      return repeat.p99 ?? Number.NaN
    default:
      return repeat.ops / seconds
  }
}

/** Memory cases: the growth per step (per connection for idle), and over the whole run. */
const memoryValues = (
  testCase: Case,
  metric: Metric,
  samples: NonNullable<ClientResult["samples"]>
): { readonly values: Array<number>; readonly total: number } => {
  const field = metric.id === "rss" ? "rss" : "fds"
  const scale = metric.id === "rss" ? (testCase.workload === "idle" ? 1024 : MiB) : 1
  const perConnection = testCase.workload === "idle"
  const growth = (from: (typeof samples)[number], to: (typeof samples)[number]) =>
    (to[field] - from[field]) / scale / (perConnection ? to.at - from.at : 1)
  const values = samples.slice(1).map((sample, i) => growth(samples[i]!, sample))
  return { values, total: growth(samples[0]!, samples[samples.length - 1]!) }
}

/** The rows of one contender's run of one case (ratios are filled in once C's are known). */
export const rowsOf = (
  testCase: Case,
  contender: ContenderId,
  mode: Mode,
  outcome: { readonly result?: ClientResult; readonly error?: string }
): Array<Row> =>
  testCase.metrics.map((metric) => {
    const base = { case: testCase.id, metric: metric.id, contender, mode, unit: metric.unit, better: metric.better, ratio: null }
    const failed = (error: string): Row => ({ ...base, values: [], median: Number.NaN, min: Number.NaN, max: Number.NaN, error })
    if (outcome.error !== undefined) return failed(outcome.error)
    const result = outcome.result!
    let values: Array<number>
    let total: number | undefined
    if (testCase.kind === "timed") {
      if (result.repeats === undefined || result.repeats.length === 0) return failed("no repeats in the result")
      values = result.repeats.map((repeat) => timedValue(testCase, metric, repeat))
    } else {
      if (result.samples === undefined || result.samples.length < 2) return failed("no samples in the result")
      ;({ total, values } = memoryValues(testCase, metric, result.samples))
    }
    return {
      ...base,
      values,
      median: median(values),
      min: Math.min(...values),
      max: Math.max(...values),
      ...(total === undefined ? {} : { total })
    }
  })

/** Sets each row's ratio to the C reference's row of the same case, metric and mode. */
export const fillRatios = (rows: ReadonlyArray<Row>): void => {
  for (const row of rows) {
    const c = rows.find((r) => r.contender === "c" && r.case === row.case && r.metric === row.metric && r.mode === row.mode)
    const reference = c === undefined ? Number.NaN : c.total ?? c.median
    const value = row.total ?? row.median
    row.ratio = Number.isFinite(reference) && reference > 0 && Number.isFinite(value) ? value / reference : null
  }
}
