#!/usr/bin/env node
// `npm run package`: the publishable package, staged in .pack/package/ and packed into
// .pack/unix-socket-fd-passing-<version>.tgz. The repository's own package.json serves
// development (its entry points are the TypeScript sources, and it is private); the published
// one points at the build (ESM, CommonJS, declarations) and lists exactly what ships: the
// build, the prebuilt addon, the addon's sources and install step (to compile where no
// prebuild matches), the README and the licence.
//   node scripts/package.mjs [--no-prebuilds] [--no-build] [--destination <dir>]
//   (--no-prebuilds: to test the fallback build; --no-build: dist/ is already built)
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const withPrebuilds = !process.argv.includes("--no-prebuilds")
const destination = process.argv.indexOf("--destination")
const out = destination > 0 ? path.resolve(process.argv[destination + 1]) : path.join(root, ".pack")
const stage = path.join(out, "package")

const run = (command, args, cwd = root) => {
  const result = spawnSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"] })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status})`)
}
const copy = (from, to = from) => fs.cpSync(path.join(root, from), path.join(stage, to), { recursive: true })

if (!process.argv.includes("--no-build")) run(path.join(root, "node_modules/.bin/tsup"), ["--silent"])
const prebuilt = path.join(root, ".pack/addon/prebuilds")
if (withPrebuilds) run(process.execPath, [path.join(root, "scripts/prebuild.mjs")]) // from the sources of now

fs.rmSync(stage, { recursive: true, force: true })
fs.mkdirSync(stage, { recursive: true })
copy("dist")
if (withPrebuilds) fs.cpSync(prebuilt, path.join(stage, "prebuilds"), { recursive: true })
for (const file of fs.readdirSync(path.join(root, "native"))) copy(`native/${file}`)
for (const file of ["binding.gyp", "scripts/install.cjs", "README.md", "LICENSE"]) copy(file)

const source = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
const entry = (name) => ({
  import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
  require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` }
})
const manifest = {
  name: source.name,
  version: source.version,
  description: source.description,
  keywords: ["unix socket", "SCM_RIGHTS", "file descriptor passing", "SO_PEERCRED", "effect", "bun", "deno"],
  license: source.license,
  type: "module",
  os: source.os,
  engines: source.engines,
  main: "./dist/index.cjs",
  module: "./dist/index.js",
  types: "./dist/index.d.ts",
  exports: {
    ".": entry("index"),
    "./node": entry("node"),
    "./bun": entry("bun"),
    "./deno": entry("deno"),
    "./promise": entry("promise"),
    "./package.json": "./package.json"
  },
  files: ["dist", "prebuilds", "native", "binding.gyp", "scripts/install.cjs"],
  scripts: { install: "node scripts/install.cjs" },
  dependencies: source.dependencies,
  peerDependencies: { effect: source.dependencies.effect }
}
delete manifest.dependencies.effect // a peer: the application's own Effect, one copy of it
fs.writeFileSync(path.join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n")

run("npm", ["pack", "--silent", "--pack-destination", out], stage)
console.log(path.join(out, `${manifest.name}-${manifest.version}.tgz`))
