/** The demo's superd (examples/superd.ts) as an operator runs it: SIGTERM ends it cleanly. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { root, spawnScript, tempDir } from "../support/helpers.ts"

describe("superd", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal} closes its listener, removes its socket file and exits 0`, async () => {
      const dir = tempDir()
      fs.writeFileSync(`${dir}/motd`, "hello")
      const superd = spawnScript(path.join(root, "examples/superd.ts"), [`${dir}/superd.sock`, `${dir}/motd`])
      await superd.waitFor("listening")
      expect(fs.lstatSync(`${dir}/superd.sock`).isSocket()).toBe(true)
      superd.kill(signal)
      const exit = await superd.exited
      expect([exit.code, exit.stderr]).toEqual([0, ""])
      expect(exit.stdout).toContain(`${signal}: closing the listener`)
      expect(fs.existsSync(`${dir}/superd.sock`)).toBe(false)
    })
  }
})
