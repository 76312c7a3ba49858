/**
 * This package's sockets as Effect's own socket abstractions: a `Connection` as an
 * `effect/socket` `Socket`, a listening `UnixServer` as a `SocketServer`. Anything built on
 * them — Effect RPC's `RpcServer.layerProtocolSocketServer` and
 * `RpcClient.layerProtocolSocket` among others — then runs over a unix socket whose peer was
 * checked (`authorize`) before its first byte.
 *
 * Who is calling: while a server-side `Socket` is handled, `CurrentPeer` holds its peer's
 * credentials (`SO_PEERCRED`). Effect RPC runs each request handler in the context of the
 * connection the request came from, so a handler reads `yield* EffectSocket.CurrentPeer` to
 * learn the caller's pid, uid and gid from the kernel — not from anything the caller said.
 *
 * Model. As `effect/socket` expects: acquiring a `Socket`'s `reader` yields a pull of byte
 * frames (one per message received; on a framed STREAM, one per frame), and every end of the
 * connection, a clean one included, fails the pull with a `SocketError` (`SocketCloseError`
 * 1000 for a clean end of stream). Closing the reader's scope closes the connection, which
 * fails a pull that is waiting. The `writer` sends each chunk as one message; releasing it
 * half-closes the connection (`end`). A `Socket` made with `make` dials a new connection at
 * each reader acquisition (Effect RPC's client reconnects that way), and its writes wait
 * while it is disconnected.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as NetAddress from "effect/net/NetAddress"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import type { Connection } from "./Connection.ts"
import type { PeerCredentials } from "./Credentials.ts"
import type * as Errors from "./Errors.ts"
import type { UnixDriver } from "./UnixDriver.ts"
import * as UnixServer from "./UnixServer.ts"
import * as UnixSocket from "./UnixSocket.ts"

/**
 * The peer of the connection being served: set for a `SocketServer` handler (and so for the
 * Effect RPC handlers of its requests); `undefined` elsewhere.
 *
 * @category references
 * @since 0.1.0
 */
export const CurrentPeer: Context.Reference<PeerCredentials | undefined> = Context.Reference<PeerCredentials | undefined>(
  "unix-socket-fd-passing/EffectSocket/CurrentPeer",
  { defaultValue: () => undefined }
)

const encoder = new TextEncoder()

const readError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
const writeError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })
const closeError = (code: number) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })
const openError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) })

/** The reader of one open connection, in the current scope: closing the scope closes it. */
const readerOf = (connection: Connection): Effect.Effect<Socket.Reader<Uint8Array>, Socket.SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    if (connection.isClosed) return yield* Effect.fail(openError(new Error("the connection is closed")))
    yield* Effect.addFinalizer(() => connection.close) // also fails a pull that is waiting
    const messages = yield* Stream.toPull(connection.messages)
    const pull: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError> = messages.pipe(
      Effect.map((batch) => batch.map((message) => message.data) as unknown as NonEmptyReadonlyArray<Uint8Array>),
      Effect.mapError((error) => Cause.isDone(error) ? closeError(1000) : readError(error)) // end of stream: a clean close
    )
    return { pull, upgrade: Socket.SocketUpgradeError.unsupported }
  })

const bytesOf = (chunk: Uint8Array | string): Uint8Array => typeof chunk === "string" ? encoder.encode(chunk) : chunk

/** Writes to `connection`: a chunk per message; a close event ends (1000) or closes it. */
const writerOf = (connection: () => Effect.Effect<Connection>): Socket.Writer => {
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.flatMap(connection(), (open) => {
      if (Socket.isCloseEvent(chunk)) return chunk.code === 1000 ? Effect.ignore(open.end) : open.close
      return Effect.mapError(open.send(bytesOf(chunk)), writeError)
    })
  return {
    write,
    writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true })
  }
}

/**
 * An open `Connection` as a `Socket`. Its reader can be acquired once: closing that
 * acquisition's scope closes the connection.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConnection = (connection: Connection): Socket.Socket =>
  Socket.make({
    reader: readerOf(connection),
    writer: Effect.acquireRelease(
      Effect.succeed(writerOf(() => Effect.succeed(connection))),
      () => Effect.ignore(connection.end)
    )
  })

/**
 * A `Socket` that connects with `options` (`UnixSocket.connect`) each time its reader is
 * acquired, so a consumer that retries reconnects. Writes wait while it is disconnected.
 * A failed connect is a `SocketOpenError` carrying this package's typed error as `cause`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: UnixSocket.ConnectOptions): Effect.Effect<Socket.Socket, never, UnixDriver> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<UnixDriver>()
    let current: Connection | undefined
    const connected = Latch.makeUnsafe(false)
    const reader: Socket.Socket["reader"] = Effect.gen(function*() {
      const connection = yield* UnixSocket.connect(options).pipe(Effect.mapError(openError), Effect.provide(context))
      current = connection
      connected.openUnsafe()
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (current === connection) current = undefined
          connected.closeUnsafe()
        })
      )
      return yield* readerOf(connection)
    })
    const currentConnection = (): Effect.Effect<Connection> =>
      Effect.suspend(() => current === undefined ? connected.whenOpen(currentConnection()) : Effect.succeed(current))
    return Socket.make({
      reader,
      writer: Effect.acquireRelease(
        Effect.succeed(writerOf(currentConnection)),
        () => current === undefined ? Effect.void : Effect.ignore(current.end)
      )
    })
  })

/**
 * `make` as a layer of `Socket`: what Effect RPC's `RpcClient.layerProtocolSocket` needs.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: UnixSocket.ConnectOptions): Layer.Layer<Socket.Socket, never, UnixDriver> =>
  Layer.effect(Socket.Socket)(make(options))

/**
 * A `SocketServer` over `UnixServer.listen(options)`, in the current scope. Each authorized
 * connection is handed to `run`'s handler as a `Socket`, with `CurrentPeer` set to its peer.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeServer = (
  options: UnixServer.ListenOptions
): Effect.Effect<SocketServer.SocketServer["Service"], Errors.AddressError, UnixDriver | Scope.Scope> =>
  Effect.map(UnixServer.listen(options), (server) =>
    SocketServer.SocketServer.of({
      address: NetAddress.unixPathAddress(server.address.text),
      run: (handler) =>
        server.serve((connection) =>
          Effect.provideService(handler(fromConnection(connection)), CurrentPeer, connection.peer)
        ).pipe(
          Effect.mapError((cause) =>
            new SocketServer.SocketServerError({ reason: new SocketServer.SocketServerUnknownError({ cause }) })
          )
        )
    }))

/**
 * `makeServer` as a layer of `SocketServer`: what Effect RPC's
 * `RpcServer.layerProtocolSocketServer` needs.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerServer = (
  options: UnixServer.ListenOptions
): Layer.Layer<SocketServer.SocketServer, Errors.AddressError, UnixDriver> =>
  Layer.effect(SocketServer.SocketServer)(makeServer(options))
