/**
 * The Promise facade: the same sockets without Effect, for applications that use async/await.
 *
 * The runtime is chosen automatically (Node.js, Bun or Deno: the same adapter `layer` the
 * Effect API takes). Every resource is closed explicitly (`close()`, or `await using`):
 *
 * ```ts
 * import { connect, listen } from "unix-socket-fd-passing/promise"
 *
 * await using server = await listen({ address: "/run/superd.sock" })
 * for await (const connection of server) {
 *   for await (const message of connection) { ... }
 * }
 * ```
 *
 * A server is an `AsyncIterable` of connections, a connection an `AsyncIterable` of messages:
 * both are pull-based as in the Effect API (nothing is accepted or read until the loop asks),
 * so backpressure reaches the peer. One loop at a time per server or connection. Failures
 * reject with the same typed errors as the Effect API (`error instanceof AddressInUse`,
 * `error._tag === "AddressInUse"`). Descriptor ownership is the same: received `Fd`s are
 * yours; `handleMessages` closes the ones your handler leaves.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Address from "../../src/Address.ts"
import type * as ConnectionModule from "../../src/Connection.ts"
import type { Credentials } from "../../src/Credentials.ts"
import type * as Errors from "../../src/Errors.ts"
import { Fd, type OpenFlags } from "../../src/Fd.ts"
import type { Message, Outgoing, Received } from "../../src/Message.ts"
import * as UnixDatagram from "../../src/UnixDatagram.ts"
import type { UnixDriver } from "../../src/UnixDriver.ts"
import * as UnixServer from "../../src/UnixServer.ts"
import * as UnixSocket from "../../src/UnixSocket.ts"
import * as BunUnix from "../bun/index.ts"
import * as DenoUnix from "../deno/index.ts"
import * as NodeUnix from "../node/index.ts"

export * from "../../src/Errors.ts"
export { Fd }
export type { Credentials, Message, Outgoing }

/** The driver layer of the runtime running this code. */
const layer: Layer.Layer<UnixDriver, Errors.Unsupported> = "Bun" in globalThis
  ? BunUnix.layer
  : "Deno" in globalThis
  ? DenoUnix.layer
  : NodeUnix.layer

/** Runs `effect` with this runtime's driver. Rejects with the effect's typed error. */
const run = <A, E>(effect: Effect.Effect<A, E, UnixDriver>): Promise<A> => Effect.runPromise(Effect.provide(effect, layer))

/** Opens a scoped resource in a scope of its own, closed by the returned `close`. */
const acquire = async <A, E>(
  effect: Effect.Effect<A, E, UnixDriver | Scope.Scope>
): Promise<{ readonly value: A; readonly close: () => Promise<void> }> => {
  const scope = Scope.makeUnsafe()
  try {
    const value = await run(Scope.provide(effect, scope))
    let closing: Promise<void> | undefined
    return { value, close: () => (closing ??= Effect.runPromise(Scope.close(scope, Exit.void))) }
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
}

/**
 * Who is on the other end (`SO_PEERCRED`), and a way to a pidfd for that process.
 *
 * @category models
 * @since 0.1.0
 */
export interface Peer extends Credentials {
  /** A new pidfd for the peer process (`SO_PEERPIDFD`, Linux 6.5+), yours to close. */
  readonly pidfd: () => Promise<Fd>
}

/**
 * A connected socket.
 *
 * @category models
 * @since 0.1.0
 */
export interface Connection extends AsyncIterable<Message>, AsyncDisposable {
  readonly type: ConnectionModule.SocketType
  readonly framing: ConnectionModule.Framing
  readonly peer: Peer
  readonly localAddress: Address.Address
  readonly remoteAddress: Address.Address
  /** How many received descriptors are held neither closed nor taken. */
  readonly unclaimedFds: number
  /**
   * Receives one message, waiting for one if none has arrived; undefined at a clean end of
   * stream. One reader at a time (this, iteration or `handleMessages`).
   */
  readonly receive: () => Promise<Message | undefined>
  /**
   * Receives one message into `buffer` (yours, reused: its bytes are `buffer.subarray(0,
   * length)`), nothing allocated per message; undefined at a clean end of stream. A message
   * longer than the buffer rejects with `MessageTooLarge` and stays queued (raw STREAM: the
   * rest stays for the next call). See `Connection.receiveInto`.
   */
  readonly receiveInto: (buffer: Uint8Array) => Promise<Received | undefined>
  /** Sends one message; resolves once the kernel holds all of it (descriptors are borrowed). */
  readonly send: (message: Outgoing) => Promise<void>
  /** Shuts down the write side once queued sends are out. */
  readonly end: () => Promise<void>
  /** Closes the socket and every unclaimed received descriptor. Idempotent. */
  readonly close: () => Promise<void>
  /** Takes the socket out of the connection as an owned `Fd` (to send it on, or to another API). */
  readonly detach: () => Promise<Fd>
  /** Runs `handler` for each message in turn, closing the descriptors it left when it returns. */
  readonly handleMessages: (handler: (message: Message) => void | Promise<void>) => Promise<void>
  /** The Effect `Connection` underneath. */
  readonly effect: ConnectionModule.Connection
}

/**
 * A listening server: iterate it for authorized connections.
 *
 * @category models
 * @since 0.1.0
 */
export interface Server extends AsyncIterable<Connection>, AsyncDisposable {
  readonly address: Address.Address
  readonly accepted: number
  readonly rejected: number
  /** Closes the listener and its open connections, and removes the socket file. Idempotent. */
  readonly close: () => Promise<void>
  /** Stops accepting and takes the listening socket out, as an owned `Fd` (to hand it over). */
  readonly detach: () => Promise<Fd>
  /** The Effect `UnixServer` underneath. */
  readonly effect: UnixServer.UnixServer
}

/**
 * A datagram endpoint: iterate it for received datagrams.
 *
 * @category models
 * @since 0.1.0
 */
export interface DatagramEndpoint extends AsyncIterable<UnixDatagram.Datagram>, AsyncDisposable {
  readonly address: Address.Address
  readonly remoteAddress: Address.Address | undefined
  /** Receives one datagram. A datagram's error rejects this call only; the endpoint stays open. */
  readonly receive: () => Promise<UnixDatagram.Datagram>
  readonly sendTo: (address: string, message: Outgoing) => Promise<void>
  readonly connect: (address: string) => Promise<void>
  readonly send: (message: Outgoing) => Promise<void>
  readonly close: () => Promise<void>
  /** The Effect `DatagramEndpoint` underneath. */
  readonly effect: UnixDatagram.DatagramEndpoint
}

/**
 * Options of `listen`: those of `UnixServer.listen`, with `onRejected` as a plain callback.
 *
 * @category models
 * @since 0.1.0
 */
export interface ListenOptions extends Omit<UnixServer.ListenOptions, "onRejected"> {
  readonly onRejected?: ((rejection: Errors.PeerRejected) => void | Promise<void>) | undefined
}

const wrapConnection = (connection: ConnectionModule.Connection, close: () => Promise<void>): Connection => {
  const peer = connection.peer
  return {
    type: connection.type,
    framing: connection.framing,
    peer: { pid: peer.pid, uid: peer.uid, gid: peer.gid, pidfd: () => run(peer.pidfd) },
    localAddress: connection.localAddress,
    remoteAddress: connection.remoteAddress,
    get unclaimedFds() {
      return connection.unclaimedFds
    },
    receive: () => run(Effect.catchIf(connection.receive, Cause.isDone, () => Effect.succeed(undefined))),
    receiveInto: (buffer) => run(Effect.catchIf(connection.receiveInto(buffer), Cause.isDone, () => Effect.succeed(undefined))),
    send: (message) => run(connection.send(message)),
    end: () => run(connection.end),
    close,
    detach: () => run(connection.detach),
    handleMessages: (handler) => run(connection.handleMessages((message) => Effect.promise(async () => handler(message)))),
    [Symbol.asyncIterator]: () => Stream.toAsyncIterable(connection.messages)[Symbol.asyncIterator](),
    [Symbol.asyncDispose]: close,
    effect: connection
  }
}

/**
 * Binds and listens. Resolves once the socket listens; rejects with `AddressInUse`,
 * `PathTooLong`, `PermissionDenied`, …
 *
 * @category constructors
 * @since 0.1.0
 */
export const listen = async (options: ListenOptions): Promise<Server> => {
  const { onRejected, ...rest } = options
  const { close, value: server } = await acquire(UnixServer.listen({
    ...rest,
    onRejected: onRejected === undefined ? undefined : (rejection) => Effect.promise(async () => onRejected(rejection))
  }))
  const connections = Stream.toAsyncIterable(server.connections)
  return {
    address: server.address,
    get accepted() {
      return server.accepted
    },
    get rejected() {
      return server.rejected
    },
    close,
    detach: () => run(server.detach),
    [Symbol.asyncIterator]: async function*() {
      for await (const connection of connections) yield wrapConnection(connection, () => run(connection.close))
    },
    [Symbol.asyncDispose]: close,
    effect: server
  }
}

/**
 * Connects to a listening socket (optionally `bind`ing the client first, as `cli_conn` does).
 *
 * @category constructors
 * @since 0.1.0
 */
export const connect = async (options: UnixSocket.ConnectOptions): Promise<Connection> => {
  const { close, value } = await acquire(UnixSocket.connect(options))
  return wrapConnection(value, close)
}

/**
 * Two connected sockets (`socketpair`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const pair = async (
  type: ConnectionModule.SocketType = "stream",
  options: ConnectionModule.ConnectionOptions = {}
): Promise<readonly [Connection, Connection]> => {
  const { value: [a, b] } = await acquire(UnixSocket.pair(type, options))
  return [wrapConnection(a, () => run(a.close)), wrapConnection(b, () => run(b.close))] as const
}

/**
 * Adopts a connected socket descriptor (received or inherited); takes ownership of it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFd = async (fd: Fd | number, options: ConnectionModule.ConnectionOptions = {}): Promise<Connection> => {
  const { close, value } = await acquire(UnixSocket.fromFd(fd, options))
  return wrapConnection(value, close)
}

/**
 * Binds a datagram endpoint (a path, an `@abstract` name, or autobind).
 *
 * @category constructors
 * @since 0.1.0
 */
export const bind = async (options: UnixDatagram.BindOptions = {}): Promise<DatagramEndpoint> => {
  const { close, value: endpoint } = await acquire(UnixDatagram.bind(options))
  return {
    address: endpoint.address,
    get remoteAddress() {
      return endpoint.remoteAddress
    },
    receive: () => run(endpoint.receive),
    sendTo: (address, message) => run(endpoint.sendTo(address, message)),
    connect: (address) => run(endpoint.connect(address)),
    send: (message) => run(endpoint.send(message)),
    close,
    [Symbol.asyncIterator]: () => Stream.toAsyncIterable(endpoint.messages)[Symbol.asyncIterator](),
    [Symbol.asyncDispose]: close,
    effect: endpoint
  }
}

/**
 * Opens a file and returns the owned `Fd`, ready to hand over.
 *
 * @category constructors
 * @since 0.1.0
 */
export const open = (path: string, flags?: OpenFlags, mode?: number): Promise<Fd> => run(Fd.open(path, flags, mode))
