/**
 * Loading the native addon, shared by the three adapters: the same `.node` file loads in
 * Node.js, Bun and Deno through `createRequire` (an `import` of a `.node` file works in none).
 * One driver exists per realm (main thread or worker): module state is per realm.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Unsupported } from "../../src/Errors.ts"
import type { NativeBinding } from "../../src/internal/binding.ts"
import * as UnixDriver from "../../src/UnixDriver.ts"

const require = createRequire(import.meta.url)

/**
 * The package's root directory: the nearest one above this module holding binding.gyp (this
 * module lives at adapters/internal/ in the sources and at dist/ in the published build).
 */
const packageRoot = (): string => {
  let dir = path.dirname(fileURLToPath(new URL(import.meta.url).href))
  while (!fs.existsSync(path.join(dir, "binding.gyp"))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Unsupported({ message: "unix-socket-fd-passing: cannot find the package's own directory (binding.gyp)" })
    dir = parent
  }
  return dir
}

/** The package directory, where the addon is (for permission checks and messages). */
export const addonPath = (): string => packageRoot()

/** The addon files to try, best first: a matching prebuild, then a local build. */
const candidates = (): ReadonlyArray<string> => {
  const root = packageRoot()
  return (require(path.join(root, "native", "locate.cjs")) as { candidates: (root: string) => Array<string> }).candidates(root)
}

let driver: UnixDriver.UnixDriverShape | undefined

const loadDriver = (runtime: string, hooks: UnixDriver.RuntimeHooks): UnixDriver.UnixDriverShape => {
  if (driver !== undefined) return driver
  const failures: Array<string> = []
  for (const candidate of candidates()) {
    try {
      driver = UnixDriver.make(require(candidate) as NativeBinding, runtime, hooks)
      return driver
    } catch (error) {
      if (!String((error as Error).message).includes("Cannot find module")) {
        failures.push(`${candidate}: ${String((error as Error).message).split("\n")[0]}`)
      }
    }
  }
  throw new Unsupported({
    message: `unix-socket-fd-passing: no native addon for ${process.platform}-${process.arch} could be loaded in ${runtime}` +
      (failures.length > 0 ? ` (${failures.join("; ")})` : " (no prebuild matches and none was built)") +
      ": with a C++ compiler, make and python3 installed, build it with `npm rebuild unix-socket-fd-passing`"
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
