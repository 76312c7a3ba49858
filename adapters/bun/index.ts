/**
 * The Bun adapter: provides the `UnixDriver` in Bun, which loads the same Node-API addon, and
 * turns received descriptors into Bun objects.
 *
 * A received file descriptor is a number Bun's own APIs accept: `Bun.file(fd.value)` reads it
 * (Bun does not close a descriptor it was given as a number: close the `Fd` when done). A
 * received stream socket becomes a Bun socket with `toBunSocket`.
 *
 * @since 0.1.0
 */
import type { FdSocketOptions, Socket, SocketHandler } from "bun"
import type * as Layer from "effect/Layer"
import type { Unsupported } from "../../src/Errors.ts"
import type { Fd } from "../../src/Fd.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import { makeLayer } from "../internal/addon.ts"

/**
 * The driver layer for Bun. Fails with `Unsupported` when the addon cannot be loaded.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<UnixDriver, Unsupported> = makeLayer("bun", undefined, {
  // Bun keeps its own copy of the environment (what process.env shows and children inherit).
  getenv: (name) => process.env[name],
  unsetenv: (name) => void delete process.env[name]
})

/**
 * Turns a received connected stream socket into a Bun socket (`Bun.connect({ fd })`) driven by
 * `handlers`. The Bun socket takes ownership: the `Fd` is taken, and Bun closes the descriptor
 * when the socket closes.
 *
 * @category conversions
 * @since 0.1.0
 */
export const toBunSocket = <Data = undefined>(
  fd: Fd,
  handlers: SocketHandler<Data>,
  options: { readonly data?: Data; readonly allowHalfOpen?: boolean } = {}
): Promise<Socket<Data>> => connectFd({ fd: fd.take(), socket: handlers, allowHalfOpen: options.allowHalfOpen ?? false, data: options.data as Data })

// Bun.connect accepts `{ fd }` (FdSocketOptions), though its declared overloads list only TCP and unix paths.
const connectFd = <Data>(options: FdSocketOptions<Data>): Promise<Socket<Data>> =>
  (Bun.connect as unknown as (options: FdSocketOptions<Data>) => Promise<Socket<Data>>)(options)
