/**
 * The Bun adapter: provides the `UnixDriver` in Bun, which loads the same Node-API addon.
 *
 * A received file descriptor is a number Bun's own APIs accept: `Bun.file(fd.value)` reads it
 * (Bun does not close descriptors it was given as numbers; close the `Fd` when done).
 *
 * @since 0.1.0
 */
import type { Layer } from "effect"
import type { Unsupported } from "../../src/Errors.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import { makeLayer } from "../internal/addon.ts"

/**
 * The driver layer for Bun. Fails with `Unsupported` when the addon cannot be loaded.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<UnixDriver, Unsupported> = makeLayer("bun")
