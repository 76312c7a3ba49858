/**
 * The Deno adapter: provides the `UnixDriver` in Deno, which loads the same Node-API addon.
 *
 * Deno needs `--allow-ffi` to load a native addon and `--allow-read` for the addon file;
 * without them the layer fails with `Unsupported` naming the missing flags. Deno's `node:fs`
 * refuses descriptors it did not open itself, so read and write received descriptors through
 * the `Fd` helpers: `fd.readable()` and `fd.writable()` (Web streams), `fd.read`, `fd.write`.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import { Unsupported } from "../../src/Errors.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import { addonPath, makeLayer } from "../internal/addon.ts"

interface DenoPermissions {
  readonly permissions: {
    querySync(descriptor: { readonly name: string; readonly path?: string }): { readonly state: string }
  }
}

/** Names the permission flags Deno lacks to load the addon, before trying to. */
const missingPermissions = (): Unsupported | undefined => {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno
  if (deno === undefined) {
    return new Unsupported({ message: "the Deno adapter runs only in Deno; use unix-socket-fd-passing/node or /bun" })
  }
  const path = addonPath()
  const missing = [
    deno.permissions.querySync({ name: "ffi" }).state !== "granted" ? "--allow-ffi" : undefined,
    deno.permissions.querySync({ name: "read", path }).state !== "granted" ? "--allow-read" : undefined
  ].filter((flag) => flag !== undefined)
  if (missing.length === 0) return undefined
  return new Unsupported({
    message: `Deno needs ${missing.join(" and ")} to load the native addon (${path}): run deno with --allow-ffi --allow-read`
  })
}

/**
 * The driver layer for Deno. Fails with `Unsupported` naming `--allow-ffi` or `--allow-read`
 * when Deno runs without them, or when the addon cannot be loaded.
 *
 * @category layers
 * @since 0.1.0
 */
// Deno 2.9's thread-safe functions can leave a posted call queued until something else wakes
// its event loop (measured: two processes in a ping-pong, unpinned, stalled for good with the
// data waiting, within seconds): the reactor re-wakes the loop after 2 ms without delivery.
// And Deno 2.9 chains every AsyncResource made inside another's scope, one per fiber
// suspension under effect 4.1 (measured: +505 MiB over 1,000,000 waits of one fiber): fibers
// woken by a socket resume outside their captured context, which ends the chain.
export const layer: Layer.Layer<UnixDriver, Unsupported> = makeLayer("deno", missingPermissions, {
  redeliverMs: 2,
  resumeOutsideAsyncContext: true
})
