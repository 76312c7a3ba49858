/**
 * The Node.js adapter: loads the addon with `createRequire` and provides the `UnixDriver`.
 *
 * A received descriptor is an ordinary number to Node: read a file with
 * `fs.readSync(fd.value, …)`, or turn a received socket into a `net.Socket` with
 * `toNetSocket`. One driver exists per realm (main thread or worker), made on first use.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { createRequire } from "node:module"
import * as net from "node:net"
import { Unsupported } from "../../src/Errors.ts"
import type { Fd } from "../../src/Fd.ts"
import type { NativeBinding } from "../../src/internal/binding.ts"
import * as UnixDriver from "../../src/UnixDriver.ts"

const require = createRequire(import.meta.url)

/** Where the addon is looked for, first match wins. */
const candidates = [
  "../../build/Release/unix_socket.node",
  "../../build/Debug/unix_socket.node"
]

let driver: UnixDriver.UnixDriverShape | undefined

const loadDriver = (): UnixDriver.UnixDriverShape => {
  if (driver !== undefined) return driver
  const failures: Array<string> = []
  for (const candidate of candidates) {
    try {
      const binding = require(candidate) as NativeBinding
      driver = UnixDriver.make(binding, "node")
      return driver
    } catch (error) {
      failures.push(`${candidate}: ${(error as Error).message.split("\n")[0]}`)
    }
  }
  throw new Unsupported({
    message: `the native addon could not be loaded (run \`npm rebuild unix-socket-fd-passing\` to build it): ${failures.join("; ")}`
  })
}

/**
 * The driver layer for Node.js. Fails with `Unsupported` when the addon cannot be loaded.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<UnixDriver.UnixDriver, Unsupported> = Layer.effect(
  UnixDriver.UnixDriver,
  Effect.try({ try: loadDriver, catch: (error) => error as Unsupported })
)

/**
 * Turns a received stream socket into a `net.Socket`. The socket takes ownership: the `Fd` is
 * taken, and `net.Socket` closes the descriptor when it is destroyed.
 *
 * @category conversions
 * @since 0.1.0
 */
export const toNetSocket = (fd: Fd, options: { readonly allowHalfOpen?: boolean } = {}): net.Socket =>
  new net.Socket({ fd: fd.take(), readable: true, writable: true, allowHalfOpen: options.allowHalfOpen ?? false })
