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
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Address from "./Address.ts"
import type { Connection, ConnectionOptions, SocketType } from "./Connection.ts"
import type { PeerCredentials } from "./Credentials.ts"
import * as Errors from "./Errors.ts"
import { Fd } from "./Fd.ts"
import { bindAddress, type FileIdentity, removeIfOurs } from "./internal/bind.ts"
import { SocketConnection, UNNAMED } from "./internal/connection.ts"
import { readPeer, SocketHandle } from "./internal/peer.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { connectNow, openSocket, typeName, typeNumber } from "./internal/open.ts"
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
  /**
   * Bind the client socket to this address before connecting, as the classic `cli_conn` does,
   * so a server can see it (`remoteAddress`) and, for a path, learn who we are from the file's
   * owner. A stale socket file there is replaced; the file is removed when the connection
   * closes (if the server has not removed it already).
   */
  readonly bind?: string | undefined
  /**
   * `bind` even in a directory another user could use to replace the socket (owned by another
   * user, or writable by everyone without the sticky bit), which is refused by default with
   * `PermissionDenied`.
   */
  readonly trustDirectory?: boolean | undefined
  /** File mode of the `bind` path. Default `0o700` (owner only), which `cli_conn`-style servers require. */
  readonly bindMode?: number | undefined
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
    UnixDriver.use((driver) => Effect.suspend(() => open(driver, options))) as Effect.Effect<Connection, Errors.AddressError, UnixDriver>,
    release,
    { interruptible: true }
  )

/**
 * The address last connected to, parsed: a client connects to one address again and again, and
 * encoding it is a measurable part of a short connection. `shown` is shared by the connections
 * made to it as their `remoteAddress` (as a listener's address is shared by the connections it
 * accepts); `connect` itself uses a copy nobody else holds, so no caller can redirect it.
 */
let lastTarget: { readonly shown: Address.Address; readonly dialed: Address.Address } | undefined

/**
 * The steps of `connect` as plain calls: an Effect is built only to fail, or to wait while the
 * listener's backlog is full (connecting is most of the cost of a short-lived connection).
 */
const open = (driver: UnixDriverShape, options: ConnectOptions): Effect.Effect<Connection, Errors.UnixError> => {
  let target = lastTarget
  if (target?.shown.text !== options.address) {
    const parsed = Address.parse(options.address)
    if (parsed._tag === "Failure") return Effect.fail(parsed.failure)
    target = lastTarget = { shown: parsed.success, dialed: { ...parsed.success, bytes: parsed.success.bytes.slice() } }
  }
  const address = target.dialed
  if (address.kind === "unnamed") {
    return Effect.fail(new Errors.AddressNotFound({ message: "connect: an empty address names no socket" }))
  }
  const bind = options.bind === undefined ? undefined : Address.parse(options.bind)
  if (bind?._tag === "Failure") return Effect.fail(bind.failure)
  const clientAddress = bind?.success
  const type = options.type ?? "stream"
  const fd = openSocket(driver, type)
  if (typeof fd !== "number") return Effect.fail(fd)
  let bound: FileIdentity | undefined
  const unbind = clientAddress === undefined ? undefined : () => removeIfOurs(driver, clientAddress, bound)
  const closeSocket = () => {
    driver.binding.close(fd)
    unbind?.()
  }
  const abandon = (error: Errors.UnixError) => {
    closeSocket()
    return Effect.fail(error)
  }
  if (clientAddress !== undefined) {
    const result = bindAddress(driver, fd, type, clientAddress, options.bindMode ?? 0o700, options.trustDirectory)
    if (result !== undefined && "_tag" in result) return abandon(result)
    bound = result
  }
  // Both addresses are known: ours is the one bound, or none (connect does not autobind); the
  // peer's is the one connected to. Built field by field: spreading the caller's options (an
  // object of any shape) was the costliest line of a short-lived connection.
  const connectionOptions = {
    framing: options.framing,
    limits: options.limits,
    passCredentials: options.passCredentials,
    onClose: unbind,
    localAddress: clientAddress ?? UNNAMED,
    remoteAddress: target.shown
  }
  const connected = () => {
    const connection = makeConnection(driver, fd, type, connectionOptions)
    return "_tag" in connection ? abandon(connection) : Effect.succeed(connection)
  }
  const waiting = connectNow(driver, fd, address)
  if (waiting === undefined) return connected()
  return waiting.pipe(
    Effect.matchEffect({ onFailure: abandon, onSuccess: connected }),
    Effect.onInterrupt(() => Effect.sync(closeSocket))
  )
}

const makeConnection = (
  driver: UnixDriverShape,
  fd: number,
  type: SocketType,
  options: ConstructorParameters<typeof SocketConnection>[4]
): Connection | Errors.UnixError => {
  const socket = new SocketHandle(fd)
  const peer = readPeer(driver, socket)
  if ("_tag" in peer) return peer
  return new SocketConnection(driver, socket, type, peer, options)
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
        const ends = [new SocketHandle(out[0]!), new SocketHandle(out[1]!)] as const
        const peers = ends.map((end) => readPeer(driver, end))
        const failed = peers.find((peer) => "_tag" in peer)
        if (failed !== undefined) {
          driver.binding.close(out[0]!)
          driver.binding.close(out[1]!)
          return Effect.fail(failed as Errors.UnixError)
        }
        const connect = (i: 0 | 1) => new SocketConnection(driver, ends[i], type, peers[i] as PeerCredentials, options)
        return Effect.succeed([connect(0), connect(1)] as const)
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
        const socket = new SocketHandle(value)
        const peer = readPeer(driver, socket)
        if ("_tag" in peer) return Effect.fail(peer)
        if (fd instanceof Fd) fd.take()
        return Effect.succeed(new SocketConnection(driver, socket, name, peer, options) as Connection)
      })
    ),
    release
  )
