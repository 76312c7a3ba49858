/**
 * The cross-runtime matrix: a superd in each runtime × a romd in each runtime, as separate OS
 * processes. Each pair checks the other's pid and uid and hands an open file both ways.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { root, spawnScript, succeeded, tempDir } from "../support/helpers.ts"
import { runtimes } from "../support/runtime.ts"

const script = path.join(root, "test/fixtures/matrix.ts")

describe("cross-runtime hand-off", () => {
  for (const server of runtimes) {
    for (const client of runtimes) {
      it(`superd on ${server} ⇄ romd on ${client}: identities checked, a file handed each way`, async () => {
        const dir = tempDir()
        fs.writeFileSync(`${dir}/superd.txt`, `opened by superd on ${server}`)
        fs.writeFileSync(`${dir}/romd.txt`, `opened by romd on ${client}`)
        const address = `${dir}/superd.sock`
        const superd = spawnScript(script, ["superd", address, `${dir}/superd.txt`], { runtime: server })
        await superd.waitFor("listening")
        const romd = spawnScript(script, ["romd", address, `${dir}/romd.txt`], { runtime: client })
        const [superdOut, romdOut] = await Promise.all([succeeded(superd), succeeded(romd)])
        const uid = process.getuid!()
        expect(superdOut).toContain(`listening ${server} pid=${superd.pid}`)
        expect(romdOut).toContain(`connected ${client} pid=${romd.pid}`)
        expect(superdOut).toContain(`peer pid=${romd.pid} uid=${uid}`)
        expect(romdOut).toContain(`peer pid=${superd.pid} uid=${uid}`)
        expect(romdOut).toContain(`read "superd's file from ${server}": "opened by superd on ${server}"`)
        expect(superdOut).toContain(`read "romd's file from ${client}": "opened by romd on ${client}"`)
        fs.rmSync(dir, { recursive: true })
      })
    }
  }
})
