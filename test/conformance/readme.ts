import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "./expect.ts"
import { describe, it } from "./harness.ts"
import { root, runtime, spawnScript, succeeded } from "../support/helpers.ts"

describe("README", () => {
  it(`the ${runtime} quick start is printed in the README exactly as in examples/, and runs as written`, async () => {
    const example = path.join(root, `examples/quickstart-${runtime}.ts`)
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    expect(readme).toContain("```ts\n" + fs.readFileSync(example, "utf8") + "```")
    // Deno: exactly the flags the README gives for it.
    const stdout = await succeeded(spawnScript(example, [], { denoFlags: ["--allow-ffi", "--allow-read"] }))
    expect(stdout).toContain(`hostname: ${fs.readFileSync("/etc/hostname", "utf8").trim()}`)
  })
})
