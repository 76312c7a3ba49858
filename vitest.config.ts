import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/node/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites spawn real processes and count this process's descriptors: run files one at a
    // time so one file's sockets never show up in another's counts.
    fileParallelism: false,
    pool: "forks",
    reporters: ["default", "./test/support/summary-reporter.ts"]
  }
})
