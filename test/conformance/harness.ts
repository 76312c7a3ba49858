/**
 * The conformance suite is written once against this tiny registry; each runtime's runner
 * (vitest on Node, `bun test`, `deno test`) turns every registered case into one of its tests.
 */
export interface Case {
  readonly suite: string
  readonly name: string
  readonly fn: () => Promise<unknown> | void
}

export const cases: Array<Case> = []

let suite = ""

export const describe = (name: string, body: () => void): void => {
  const outer = suite
  suite = outer === "" ? name : `${outer} > ${name}`
  body()
  suite = outer
}

export const it = (name: string, fn: () => Promise<unknown> | void): void => {
  cases.push({ suite, name, fn })
}
