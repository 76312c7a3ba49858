// Where this package's compiled addon is, for the loader (adapters/internal/addon.ts) and the
// install step (scripts/install.cjs): a prebuild matching the platform, architecture and C
// library first (prebuilds/<platform>-<arch>/*.node, Node-API: one file for every Node.js,
// Bun and Deno), then a local build (build/Release, build/Debug), made where none matched.
// (The repository itself has no prebuilds/: `npm run prebuild` writes them under .pack/.)
"use strict"
const fs = require("node:fs")
const path = require("node:path")

/** "musl" on musl-based systems (Alpine), else "glibc". */
const libc = () => {
  try {
    return fs.existsSync("/etc/alpine-release") ? "musl" : "glibc"
  } catch {
    return "glibc" // a sandbox that may not look at /etc
  }
}

/** The prebuilt addons for this platform, architecture and C library, in the package at `root`. */
const prebuilds = (root, platform = process.platform, arch = process.arch) => {
  const dir = path.join(root, "prebuilds", `${platform}-${arch}`)
  const mine = libc()
  let prebuilt = []
  try {
    prebuilt = fs.readdirSync(dir)
      .filter((file) => file.endsWith(".node"))
      .filter((file) => !/\.(glibc|musl)\./.test(file) || file.includes(`.${mine}.`))
      .map((file) => path.join(dir, file))
  } catch {
    // no prebuild for this platform
  }
  return prebuilt
}

/** The addon files to try, best first, for the package at `root`. */
const candidates = (root) => [
  ...prebuilds(root),
  path.join(root, "build", "Release", "unix_socket.node"),
  path.join(root, "build", "Debug", "unix_socket.node")
]

module.exports = { candidates, prebuilds, libc }
