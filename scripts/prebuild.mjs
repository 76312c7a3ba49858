#!/usr/bin/env node
// `npm run prebuild`: the Node-API prebuild of the addon for this platform, architecture and C
// library (prebuilds/<platform>-<arch>/), one binary for every Node.js ≥ 20, Bun and Deno.
// Built against this Node's own headers when they are installed (no download).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const headers = path.resolve(path.dirname(process.execPath), "..") // <prefix>/include/node/node_api.h
const env = { ...process.env }
if (env.npm_config_nodedir === undefined && fs.existsSync(path.join(headers, "include/node/node_api.h"))) {
  env.npm_config_nodedir = headers
}
const result = spawnSync(
  path.join(root, "node_modules/.bin/prebuildify"),
  ["--napi", "--strip", "--tag-libc", "--target", process.versions.node],
  { cwd: root, env, stdio: "inherit" }
)
process.exit(result.status ?? 1)
