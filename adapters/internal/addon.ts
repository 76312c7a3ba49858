/**
 * Loading the native addon, shared by the three adapters: the same `.node` file loads in
 * Node.js, Bun and Deno through `createRequire` (an `import` of a `.node` file works in none).
 * One driver exists per realm (main thread or worker): module state is per realm.
 *
 * @internal
 */
import { Effect, Layer } from "effect"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { Unsupported } from "../../src/Errors.ts"
import type { NativeBinding } from "../../src/internal/binding.ts"
import * as UnixDriver from "../../src/UnixDriver.ts"

const require = createRequire(import.meta.url)

/** Where the addon is looked for, first match wins. */
const candidates = ["../../build/Release/unix_socket.node", "../../build/Debug/unix_socket.node"]

/** The absolute path of the addon file looked for first (for permission checks and messages). */
export const addonPath = (): string => fileURLToPath(new URL(candidates[0]!, import.meta.url).href)

let driver: UnixDriver.UnixDriverShape | undefined

const loadDriver = (runtime: string, hooks: UnixDriver.RuntimeHooks): UnixDriver.UnixDriverShape => {
  if (driver !== undefined) return driver
  const failures: Array<string> = []
  for (const candidate of candidates) {
    try {
      driver = UnixDriver.make(require(candidate) as NativeBinding, runtime, hooks)
      return driver
    } catch (error) {
      failures.push(`${candidate}: ${String((error as Error).message).split("\n")[0]}`)
    }
  }
  throw new Unsupported({
    message: `the native addon could not be loaded in ${runtime} (build it with \`npm rebuild unix-socket-fd-passing\`): ${
      failures.join("; ")
    }`
  })
}

/**
 * The driver layer of a runtime. `preflight` reports a missing capability (a permission)
 * before anything is loaded, so the failure names what to do; `hooks` adds what the runtime
 * needs beyond the addon.
 */
export const makeLayer = (
  runtime: string,
  preflight: () => Unsupported | undefined = () => undefined,
  hooks: UnixDriver.RuntimeHooks = {}
): Layer.Layer<UnixDriver.UnixDriver, Unsupported> =>
  Layer.effect(
    UnixDriver.UnixDriver,
    Effect.suspend(() => {
      const missing = preflight()
      if (missing !== undefined) return Effect.fail(missing)
      return Effect.try({
        try: () => loadDriver(runtime, hooks),
        catch: (error) =>
          error instanceof Unsupported ? error : new Unsupported({ message: `${runtime}: ${String(error)}` })
      })
    })
  )
