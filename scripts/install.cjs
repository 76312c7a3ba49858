// The install step of the published package: use the prebuilt addon when one matches this
// platform (no compiler needed), else compile one with node-gyp; if that is impossible, say
// what to do. (Bun and Deno do not run install steps by default: they use the prebuild.)
"use strict"
const path = require("node:path")
const { spawnSync } = require("node:child_process")
const { prebuilds } = require("../native/locate.cjs")

const root = path.resolve(__dirname, "..")

for (const file of prebuilds(root)) {
  try {
    require(file)
    process.exit(0) // a prebuild loads here: nothing to build
  } catch {
    // not loadable here (another C library, a corrupt file): try the next, then build
  }
}

const nodeGyp = process.env.npm_config_node_gyp // npm's own node-gyp, when npm runs this
const build = nodeGyp
  ? spawnSync(process.execPath, [nodeGyp, "rebuild"], { cwd: root, stdio: "inherit" })
  : spawnSync("node-gyp", ["rebuild"], { cwd: root, stdio: "inherit", shell: true })
if (build.status !== 0) {
  console.error(
    `\nunix-socket-fd-passing: there is no prebuilt addon for ${process.platform}-${process.arch}, and building one failed.\n` +
      "Install a C++ compiler (g++ or clang), make and python3 (on Debian or Ubuntu: apt install g++ make python3),\n" +
      "then run: npm rebuild unix-socket-fd-passing\n"
  )
  process.exit(1)
}
