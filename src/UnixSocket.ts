/**
 * Client sockets: connect to a server, make a connected pair, or adopt a descriptor.
 *
 * Each constructor returns a scoped `Connection`: closing the scope closes the socket and
 * every received descriptor nobody claimed. `connect` may `bind` the client to a path first,
 * as the classic `cli_conn` does, so servers that identify clients by their bound path (and
 * the owner of that file) keep working.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as Address from "./Address.ts"
import type { Connection, ConnectionOptions, SocketType } from "./Connection.ts"
import * as Errors from "./Errors.ts"
import { Fd } from "./Fd.ts"
import { readPeer, SocketConnection } from "./internal/connection.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { connectWithRetry, openSocket, typeName, typeNumber } from "./internal/open.ts"
import { UnixDriver, type UnixDriverShape } from "./UnixDriver.ts"

/**
 * Options of `connect`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectOptions extends ConnectionOptions {
  /** `"/path"` or `"@abstract"`. */
  readonly address: string
  /** Default `"stream"`. */
  readonly type?: SocketType | undefined
  /** Bind the client socket to this address before connecting (`cli_conn`). */
  readonly bind?: string | undefined
}

const release = (connection: Connection) => connection.close

/**
 * Connects to a listening socket. Fails with `AddressNotFound` (no such path),
 * `ConnectionRefused` (a socket file nobody listens on), `PermissionDenied`, `PathTooLong`.
 * While the server's backlog is full it keeps retrying; bound it with `Effect.timeout`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const connect = (
  options: ConnectOptions
): Effect.Effect<Connection, Errors.AddressError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.gen(function*() {
        const address = yield* Effect.fromResult(Address.parse(options.address))
        if (address.kind === "unnamed") {
          return yield* new Errors.AddressNotFound({ message: "connect: an empty address names no socket" })
        }
        const bindAddress = options.bind === undefined ? undefined : yield* Effect.fromResult(Address.parse(options.bind))
        const type = options.type ?? "stream"
        const fd = openSocket(driver, type)
        if (typeof fd !== "number") return yield* Effect.fail(fd)
        return yield* Effect.gen(function*() {
          if (bindAddress !== undefined) {
            const bound = driver.binding.bind(fd, bindAddress.bytes)
            if (bound < 0) return yield* Effect.fail(errorFromErrno(driver.binding, -bound, "bind", bindAddress.text))
          }
          yield* connectWithRetry(driver, fd, address)
          return yield* makeConnection(driver, fd, type, options)
        }).pipe(Effect.onError(() => Effect.sync(() => driver.binding.close(fd))))
      })
    ) as Effect.Effect<Connection, Errors.AddressError, UnixDriver>,
    release,
    { interruptible: true }
  )

const makeConnection = (
  driver: UnixDriverShape,
  fd: number,
  type: SocketType,
  options: ConnectionOptions
): Effect.Effect<Connection, Errors.UnixError> => {
  const peer = readPeer(driver, fd)
  if ("_tag" in peer) return Effect.fail(peer)
  return Effect.succeed(new SocketConnection(driver, fd, type, peer, options))
}

/**
 * Two connected sockets (`socketpair`), both ends in this process: hand one end's descriptor
 * to a child process, or use both in tests.
 *
 * @category constructors
 * @since 0.1.0
 */
export const pair = (
  type: SocketType = "stream",
  options: ConnectionOptions = {}
): Effect.Effect<readonly [Connection, Connection], Errors.UnixError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.suspend(() => {
        const out = new Int32Array(2)
        const result = driver.binding.socketpair(typeNumber(driver, type), out)
        if (result < 0) return Effect.fail(errorFromErrno(driver.binding, -result, "socketpair"))
        const peer = readPeer(driver, out[0]!)
        if ("_tag" in peer) {
          driver.binding.close(out[0]!)
          driver.binding.close(out[1]!)
          return Effect.fail(peer)
        }
        return Effect.succeed(
          [
            new SocketConnection(driver, out[0]!, type, peer, options),
            new SocketConnection(driver, out[1]!, type, peer, options)
          ] as const
        )
      })
    ),
    ([a, b]) => Effect.andThen(a.close, b.close)
  )

/**
 * Adopts a connected STREAM or SEQPACKET socket descriptor: one received in a message, or
 * inherited. The connection takes ownership (an `Fd` is taken; a number must not be closed by
 * the caller afterwards). The descriptor is switched to non-blocking mode.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFd = (
  fd: Fd | number,
  options: ConnectionOptions = {}
): Effect.Effect<Connection, Errors.UnixError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.suspend(() => {
        const b = driver.binding
        const value = fd instanceof Fd ? fd.value : fd
        const type = b.getsockoptInt(value, b.constants.SO_TYPE)
        if (type < 0) return Effect.fail(errorFromErrno(b, -type, "getsockopt(SO_TYPE)"))
        const name = typeName(driver, type)
        if (name !== "stream" && name !== "seqpacket") {
          return Effect.fail(
            new Errors.Unsupported({ message: `fromFd: descriptor ${value} is a ${name ?? "non-unix"} socket; a connection needs stream or seqpacket` })
          )
        }
        const flags = b.getfl(value)
        if (flags < 0) return Effect.fail(errorFromErrno(b, -flags, "fcntl(F_GETFL)"))
        const set = b.setfl(value, flags | b.constants.O_NONBLOCK)
        if (set < 0) return Effect.fail(errorFromErrno(b, -set, "fcntl(F_SETFL)"))
        const peer = readPeer(driver, value)
        if ("_tag" in peer) return Effect.fail(peer)
        const owned = fd instanceof Fd ? fd.take() : value
        return Effect.succeed(new SocketConnection(driver, owned, name, peer, options) as Connection)
      })
    ),
    release
  )
