/** The conformance suite under Bun (`bun test`). */
// @ts-ignore: bun:test exists only under Bun
import { describe, test } from "bun:test"
import { cases } from "../conformance/index.ts"

const suites = new Map<string, typeof cases>()
for (const c of cases) suites.set(c.suite, [...(suites.get(c.suite) ?? []), c])
for (const [suite, tests] of suites) {
  describe(suite, () => {
    for (const c of tests) test(c.name, async () => void (await c.fn()), 60_000)
  })
}
