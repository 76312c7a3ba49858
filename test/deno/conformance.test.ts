/** The conformance suite under Deno (`deno test` with the flags a user passes). */
import { cases } from "../conformance/index.ts"

declare const Deno: {
  test(options: { name: string; fn: () => Promise<void>; sanitizeOps: boolean; sanitizeResources: boolean }): void
}

for (const c of cases) {
  Deno.test({
    name: `${c.suite} > ${c.name}`,
    fn: async () => void (await c.fn()),
    // Sockets and child processes here are the addon's and the OS's, not Deno resources; the
    // suite checks descriptors itself through /proc/self/fd.
    sanitizeOps: false,
    sanitizeResources: false
  })
}
