/**
 * The Deno adapter: provides the `UnixDriver` in Deno, which loads the same Node-API addon.
 *
 * Deno needs `--allow-ffi` to load a native addon (and `--allow-read` for the addon file and
 * `/proc`); without it the layer fails with `Unsupported` naming the flag. Deno's `node:fs`
 * refuses descriptors it did not open itself, so read and write received descriptors through
 * the `Fd` helpers: `fd.readable()` and `fd.writable()` (Web streams), `fd.read`, `fd.write`.
 *
 * @since 0.1.0
 */
import type { Layer } from "effect"
import { Unsupported } from "../../src/Errors.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import { makeLayer } from "../internal/addon.ts"

interface DenoPermissions {
  readonly permissions: { querySync(descriptor: { readonly name: string }): { readonly state: string } }
}

const missingFfi = (): Unsupported | undefined => {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno
  if (deno === undefined) {
    return new Unsupported({ message: "the Deno adapter runs only in Deno; use unix-socket-fd-passing/node or /bun" })
  }
  if (deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return new Unsupported({
      message: "Deno needs --allow-ffi to load the native addon: run deno with --allow-ffi (and --allow-read)"
    })
  }
  return undefined
}

/**
 * The driver layer for Deno. Fails with `Unsupported` naming `--allow-ffi` when Deno runs
 * without it, or when the addon cannot be loaded.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<UnixDriver, Unsupported> = makeLayer("deno", missingFfi)
