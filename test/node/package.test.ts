/**
 * The published package as its users get it: `npm run package` builds the tarball, and fresh
 * projects install it — with npm, with Bun (`bun install`, install scripts blocked) and with
 * Deno — and run superd and romd from it, with no C/C++ compiler reachable. Without the
 * prebuild, the install step compiles where a compiler exists and says what to do where none
 * does.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { root, spawnProgram, succeeded, tempDir } from "../support/helpers.ts"

const bin = (name: string) => path.join(root, "node_modules/.bin", name)
const fixtures = path.join(root, "test/fixtures/consumer")

let withPrebuild = ""
let withoutPrebuild = ""

/** A PATH with sh, node, npm, bun and deno and nothing else: no cc, c++, g++, make or python3. */
const noCompilerPath = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "usfp-nocc-"))
  const npmBin = path.join(path.dirname(process.execPath), "npm")
  const links: Record<string, string> = {
    sh: "/bin/sh", // npm runs install steps with it
    node: process.execPath,
    npm: fs.realpathSync(npmBin),
    bun: bin("bun"),
    deno: bin("deno")
  }
  for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(dir, name))
  for (const compiler of ["cc", "c++", "gcc", "g++", "make", "python3"]) {
    expect(spawnSync("sh", ["-c", `command -v ${compiler}`], { env: { PATH: dir } }).status).not.toBe(0)
  }
  return dir
}

/** A fresh consumer project depending on `dependency`, with the consumer programs in it. */
const project = (dependency: string, extra: Record<string, unknown> = {}): string => {
  const dir = tempDir()
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { "unix-socket-fd-passing": dependency, effect: "4.1.0" }, ...extra }, null, 2)
  )
  for (const file of fs.readdirSync(fixtures)) fs.copyFileSync(path.join(fixtures, file), path.join(dir, file))
  return dir
}

const install = (command: string, args: ReadonlyArray<string>, cwd: string, PATH?: string) =>
  spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, ...(PATH === undefined ? {} : { PATH }) } })

/** Runs superd, then romd (each a separate process) in `dir`; returns what superd printed. */
const handOff = async (dir: string, superd: ReadonlyArray<string>, romd: ReadonlyArray<string>): Promise<string> => {
  fs.writeFileSync(path.join(dir, "motd.txt"), "installed from the tarball")
  const server = spawnProgram([...superd, path.join(dir, "s.sock"), path.join(dir, "motd.txt")], { cwd: dir })
  await server.waitFor("listening")
  await succeeded(spawnProgram([...romd, path.join(dir, "s.sock")], { cwd: dir }))
  return succeeded(server)
}

describe("the published package", () => {
  beforeAll(() => {
    const out = tempDir()
    withPrebuild = execFileSync(process.execPath, [path.join(root, "scripts/package.mjs"), "--destination", `${out}/with`], { encoding: "utf8" }).trim().split("\n").pop()!
    withoutPrebuild = execFileSync(process.execPath, [path.join(root, "scripts/package.mjs"), "--no-build", "--no-prebuilds", "--destination", `${out}/without`], { encoding: "utf8" }).trim().split("\n").pop()!
  }, 180_000)

  it("holds exactly what ships: the build, the prebuild, the addon's sources and install step, README and licence", () => {
    const files = execFileSync("tar", ["tzf", withPrebuild], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, "")).sort()
    const expected = [/^LICENSE$/, /^README\.md$/, /^package\.json$/, /^binding\.gyp$/, /^scripts\/install\.cjs$/, /^native\/(addon|reactor|syscalls)\.(cc|h)$/, /^native\/locate\.cjs$/, /^dist\/[\w-]+\.(js|cjs|d\.ts|d\.cts)$/, /^prebuilds\/linux-x64\/unix-socket-fd-passing\.glibc\.node$/]
    expect(files.filter((file) => !expected.some((pattern) => pattern.test(file)))).toEqual([])
    for (const entry of ["index", "node", "bun", "deno", "promise"]) {
      for (const file of [`dist/${entry}.js`, `dist/${entry}.cjs`, `dist/${entry}.d.ts`, `dist/${entry}.d.cts`]) expect(files).toContain(file)
    }
    expect(files).toContain("prebuilds/linux-x64/unix-socket-fd-passing.glibc.node")
    const manifest = JSON.parse(execFileSync("tar", ["xzOf", withPrebuild, "package/package.json"], { encoding: "utf8" }))
    expect(Object.keys(manifest.exports)).toEqual([".", "./node", "./bun", "./deno", "./promise", "./package.json"])
    expect(manifest.exports["./node"]).toEqual({
      import: { types: "./dist/node.d.ts", default: "./dist/node.js" },
      require: { types: "./dist/node.d.cts", default: "./dist/node.cjs" }
    })
    expect(execFileSync("tar", ["tzf", withoutPrebuild], { encoding: "utf8" })).not.toContain("prebuilds/")
  })

  it("publishes: npm publish --dry-run of the package, and deno publish --dry-run of deno.json (for JSR)", () => {
    const stage = path.join(path.dirname(withPrebuild), "package")
    const npm = spawnSync("npm", ["publish", "--dry-run"], { cwd: stage, encoding: "utf8" })
    expect(npm.status, npm.stderr).toBe(0)
    expect(npm.stdout + npm.stderr).toContain("+ unix-socket-fd-passing@0.1.0")
    // Effect's class constructors (Data.TaggedError, Context.Service) are "slow types" to JSR.
    const deno = spawnSync(bin("deno"), ["publish", "--dry-run", "--allow-slow-types", "--allow-dirty"], { cwd: root, encoding: "utf8" })
    expect(deno.status, deno.stderr).toBe(0)
    expect(deno.stdout + deno.stderr).toContain("Dry run complete")
  })

  it("npm: installs with no compiler on PATH (the prebuild), runs superd with ESM and romd with ESM and CommonJS, and type-checks", async () => {
    const dir = project(`file:${withPrebuild}`)
    const installed = install("npm", ["install", "--no-audit", "--no-fund"], dir, noCompilerPath())
    expect(installed.status, installed.stderr).toBe(0)
    expect(fs.existsSync(path.join(dir, "node_modules/unix-socket-fd-passing/build"))).toBe(false) // nothing compiled
    expect(await handOff(dir, ["node", "superd.mjs", "node"], ["node", "romd.mjs", "node"])).toContain(`says read "installed from the tarball"`)
    expect(await handOff(dir, ["node", "superd.mjs", "node"], ["node", "romd.cjs"])).toContain(`says read "installed from the tarball" (CommonJS)`)
    const types = spawnSync(bin("tsc"), [
      "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
      "--typeRoots", path.join(root, "node_modules/@types"), "--types", "node", "types.ts"
    ], { cwd: dir, encoding: "utf8" })
    expect(types.stdout + types.stderr).toBe("")
  })

  it("Bun: bun install (install scripts blocked) with no compiler on PATH, then superd and romd run under bun", async () => {
    const dir = project(`file:${withPrebuild}`)
    const installed = install(bin("bun"), ["install"], dir, noCompilerPath())
    expect(installed.status, installed.stderr).toBe(0)
    expect(fs.existsSync(path.join(dir, "node_modules/unix-socket-fd-passing/build"))).toBe(false)
    expect(await handOff(dir, [bin("bun"), "superd.mjs", "bun"], [bin("bun"), "romd.mjs", "bun"])).toContain(`says read "installed from the tarball"`)
  })

  it("Deno: the package unpacked into the project and linked, installed by deno (no scripts run), superd and romd run with --allow-ffi --allow-read", async () => {
    const dir = project("0.1.0")
    fs.mkdirSync(path.join(dir, "vendor/unix-socket-fd-passing"), { recursive: true })
    execFileSync("tar", ["xzf", withPrebuild, "-C", path.join(dir, "vendor/unix-socket-fd-passing"), "--strip-components=1"])
    // Deno cannot install a file: tarball: the unpacked folder stands in for the registry's package.
    fs.writeFileSync(path.join(dir, "deno.json"), JSON.stringify({ nodeModulesDir: "auto", links: ["./vendor/unix-socket-fd-passing"] }))
    const installed = install(bin("deno"), ["install"], dir, noCompilerPath())
    expect(installed.status, installed.stderr).toBe(0)
    const deno = [bin("deno"), "run", "--allow-ffi", "--allow-read"]
    expect(await handOff(dir, [...deno, "superd.mjs", "deno"], [...deno, "romd.mjs", "deno"])).toContain(`says read "installed from the tarball"`)
  })

  it("without the prebuild: npm install compiles where a compiler exists, and where none does fails saying what to do", async () => {
    const built = project(`file:${withoutPrebuild}`)
    const installed = install("npm", ["install", "--no-audit", "--no-fund"], built)
    expect(installed.status, installed.stderr).toBe(0)
    expect(fs.existsSync(path.join(built, "node_modules/unix-socket-fd-passing/build/Release/unix_socket.node"))).toBe(true)
    expect(await handOff(built, ["node", "superd.mjs", "node"], ["node", "romd.mjs", "node"])).toContain(`says read "installed from the tarball"`)

    const stranded = project(`file:${withoutPrebuild}`)
    const failed = install("npm", ["install", "--no-audit", "--no-fund"], stranded, noCompilerPath())
    expect(failed.status).not.toBe(0)
    expect(failed.stdout + failed.stderr).toContain("Install a C++ compiler (g++ or clang), make and python3")
    expect(failed.stdout + failed.stderr).toContain("npm rebuild unix-socket-fd-passing")
  })
})
