/** The layering rule of the design: the core never imports a runtime. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { root } from "../support/helpers.ts"

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : []
  )

describe("layers", () => {
  it("src/ imports no runtime: no node:* module, no Bun or Deno global", () => {
    const files = sources(path.join(root, "src"))
    expect(files.length).toBeGreaterThan(10)
    for (const file of files) {
      const code = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "") // comments may name them
      expect({ file, imports: code.match(/from\s+["'](node:[^"']+|bun(:[^"']*)?|fs|net|os|path|child_process)["']/g) }).toEqual({ file, imports: null })
      expect({ file, globals: code.match(/\b(Bun|Deno|process)\.\w+/g) }).toEqual({ file, globals: null })
    }
  })
})
