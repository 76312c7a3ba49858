/**
 * The Node.js adapter: provides the `UnixDriver` and converts descriptors to Node objects.
 *
 * A received descriptor is an ordinary number to Node: read a file with
 * `fs.readSync(fd.value, …)`, or turn a received socket into a `net.Socket` with
 * `toNetSocket`.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import { Buffer } from "node:buffer"
import * as net from "node:net"
import type { Unsupported } from "../../src/Errors.ts"
import type { Fd } from "../../src/Fd.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import { makeLayer } from "../internal/addon.ts"

/**
 * The driver layer for Node.js. Fails with `Unsupported` when the addon cannot be loaded.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<UnixDriver, Unsupported> = makeLayer("node", undefined, {
  // Readiness straight from Node's own libuv loop (no thread hop per event). Only in Node.js
  // itself: Bun also answers to `node:` imports but aborts in libuv's poll, and Deno has none.
  eventLoop: process.versions.bun === undefined && !("Deno" in globalThis) &&
    process.env.UNIX_SOCKET_FD_PASSING_REACTOR !== "thread",
  // Node.js zero-fills every new ArrayBuffer; its unsafe buffers skip that. A plain Uint8Array
  // over the buffer's own memory (not pooled: `allocUnsafeSlow`), so messages are the same
  // type in every runtime. (Bun's and Deno's unsafe buffers are no faster than a copy.)
  allocateUninitialized: (size) => {
    const memory = Buffer.allocUnsafeSlow(size)
    return new Uint8Array(memory.buffer, memory.byteOffset, size)
  }
})

/**
 * The `net.Socket` type, for code that keeps the sockets `toNetSocket` makes.
 *
 * @category models
 * @since 0.1.0
 */
export type NetSocket = net.Socket

/**
 * Turns a received stream socket into a `net.Socket`. The socket takes ownership: the `Fd` is
 * taken, and `net.Socket` closes the descriptor when it is destroyed.
 *
 * @category conversions
 * @since 0.1.0
 */
export const toNetSocket = (fd: Fd, options: { readonly allowHalfOpen?: boolean } = {}): net.Socket =>
  new net.Socket({ fd: fd.take(), readable: true, writable: true, allowHalfOpen: options.allowHalfOpen ?? false })
