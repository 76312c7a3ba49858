/**
 * One `expect` for all three runtimes: Bun's own (bun:test), Jest's `expect` package elsewhere
 * (Bun's CommonJS interop does not expose that package's named export).
 */
import type { expect as JestExpect } from "expect"

const module = "Bun" in globalThis ? "bun:test" : "expect"

export const expect: typeof JestExpect = (await import(module)).expect
