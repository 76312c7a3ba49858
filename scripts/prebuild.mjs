#!/usr/bin/env node
// `npm run prebuild`: the Node-API prebuild of the addon for this platform, architecture and C
// library, one binary for every Node.js ≥ 20, Bun and Deno, into .pack/addon/prebuilds/ (where
// `npm run package` takes it from). Built from a copy of the addon's sources, so the
// repository's own build/ is left alone, against this Node's own headers when they are
// installed (no download).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const work = path.join(root, ".pack/addon")
fs.rmSync(work, { recursive: true, force: true })
fs.mkdirSync(work, { recursive: true })
fs.cpSync(path.join(root, "native"), path.join(work, "native"), { recursive: true })
fs.copyFileSync(path.join(root, "binding.gyp"), path.join(work, "binding.gyp"))
fs.writeFileSync(path.join(work, "package.json"), JSON.stringify({ name: "unix-socket-fd-passing", private: true }))

const headers = path.resolve(path.dirname(process.execPath), "..") // <prefix>/include/node/node_api.h
const env = { ...process.env }
if (env.npm_config_nodedir === undefined && fs.existsSync(path.join(headers, "include/node/node_api.h"))) {
  env.npm_config_nodedir = headers
}
const result = spawnSync(
  path.join(root, "node_modules/.bin/prebuildify"),
  ["--napi", "--strip", "--tag-libc", "--target", process.versions.node, "--cwd", work],
  { cwd: work, env, stdio: ["ignore", "ignore", "inherit"] }
)
if (result.status !== 0) process.exit(result.status ?? 1)
console.log(path.join(work, "prebuilds"))
