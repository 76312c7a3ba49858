/**
 * Which runtime runs the tests, its driver layer, and how to start a TypeScript file as a new
 * process of any of the three runtimes (the binaries come from node_modules).
 */
import type { Layer } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Unsupported } from "../../src/Errors.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"

export type Runtime = "node" | "bun" | "deno"

export const runtimes: ReadonlyArray<Runtime> = ["node", "bun", "deno"]

export const runtime: Runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

const adapters: Record<Runtime, string> = {
  node: "../../adapters/node/index.ts",
  bun: "../../adapters/bun/index.ts",
  deno: "../../adapters/deno/index.ts"
}

/** The driver layer of the runtime running this code. */
export const layer: Layer.Layer<UnixDriver, Unsupported> = (await import(adapters[runtime])).layer

/** The permission flags a Deno user passes to run a program that uses this package. */
export const denoFlags = ["--allow-ffi", "--allow-read", "--allow-write", "--allow-run", "--allow-env", "--allow-sys"]

const nodeBinary = runtime === "node" ? process.execPath : "node"

/**
 * argv that runs `script` (a .ts file) with `args` under `target`; `extra` runtime flags go
 * before the script, and `permissions` replaces Deno's permission flags.
 */
export const commandLine = (
  target: Runtime,
  script: string,
  args: ReadonlyArray<string>,
  extra: ReadonlyArray<string> = [],
  permissions: ReadonlyArray<string> = denoFlags
): ReadonlyArray<string> => {
  switch (target) {
    case "node":
      return [nodeBinary, ...extra, "--import", "tsx", script, ...args]
    case "bun":
      return [path.join(root, "node_modules/.bin/bun"), ...extra, script, ...args]
    case "deno":
      return [path.join(root, "node_modules/.bin/deno"), "run", ...permissions, ...extra, script, ...args]
  }
}
