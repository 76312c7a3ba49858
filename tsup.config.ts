import { defineConfig } from "tsup"

/**
 * The published build: ESM and CommonJS with type declarations for every entry point. Shared
 * code is split into chunks in both formats, so that an application importing several entry
 * points gets one copy of the core (one `Fd` class, one set of error classes).
 */
export default defineConfig({
  entry: {
    index: "src/index.ts",
    node: "adapters/node/index.ts",
    bun: "adapters/bun/index.ts",
    deno: "adapters/deno/index.ts",
    promise: "adapters/promise/index.ts"
  },
  format: ["esm", "cjs"],
  dts: true,
  splitting: true,
  shims: true, // import.meta.url in the CommonJS build (the addon is found relative to it)
  target: "node20",
  platform: "node",
  outDir: "dist",
  clean: true,
  external: ["effect", "bun"]
})
