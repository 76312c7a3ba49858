/** The conformance suite under Node.js (vitest). */
import { describe, it } from "vitest"
import { cases } from "../conformance/index.ts"

const suites = new Map<string, typeof cases>()
for (const test of cases) suites.set(test.suite, [...(suites.get(test.suite) ?? []), test])
for (const [suite, tests] of suites) {
  describe(suite, () => {
    for (const test of tests) it(test.name, async () => void (await test.fn()))
  })
}
