/**
 * Listening sockets: `serv_listen` and `serv_accept`, with the uid check built in.
 *
 * `listen` binds and listens in the current scope; closing the scope closes the listener,
 * every connection it accepted that is still open, and removes the socket file (only if it
 * is still the one this server created). A stale socket file (nobody listening) is replaced;
 * a live listener gives `AddressInUse`; a file that is not a socket (or a symlink) is never
 * removed. `mode` is applied between `bind` and `listen`, when nobody can connect yet, so
 * there is no moment in which the socket is reachable wider than asked.
 *
 * Accepting is pull-based like reading: `connections` accepts as it is pulled. Each accepted
 * peer's `SO_PEERCRED` is checked by `authorize` (default `Policy.sameUser`) before anything
 * is read from it. A refused peer is closed at once, counted in `rejected`, and reported to
 * `onRejected`; it never appears in `connections`.
 *
 * @since 0.1.0
 */
import { Cause, Effect, type Scope, Stream } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Address from "./Address.ts"
import type { Connection, ConnectionOptions, SocketType } from "./Connection.ts"
import * as Errors from "./Errors.ts"
import { readPeer, SocketConnection } from "./internal/connection.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { openSocket, waitReadable } from "./internal/open.ts"
import * as Policy from "./Policy.ts"
import { UnixDriver, type UnixDriverShape } from "./UnixDriver.ts"

/**
 * Options of `listen`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ListenOptions extends ConnectionOptions {
  /** `"/path"` or `"@abstract"`. */
  readonly address: string
  /** Default `"stream"`. */
  readonly type?: SocketType | undefined
  /** `listen` backlog. Default 511. */
  readonly backlog?: number | undefined
  /** File mode of the socket file (a path address only), e.g. `0o600`. */
  readonly mode?: number | undefined
  /** Who may connect. Default `Policy.sameUser`. */
  readonly authorize?: Policy.Policy | undefined
  /** Audit hook: called for each refused peer, after its socket was closed. */
  readonly onRejected?: ((rejection: Errors.PeerRejected) => Effect.Effect<void>) | undefined
}

/**
 * A listening server.
 *
 * @category models
 * @since 0.1.0
 */
export interface UnixServer {
  readonly address: Address.Address
  readonly type: SocketType
  /** The listening descriptor, borrowed. */
  readonly fd: number
  /** Authorized connections, accepted as they are pulled. One consumer at a time. */
  readonly connections: Stream.Stream<Connection, Errors.UnixError>
  /**
   * Accepts forever, running `handler` for each connection in its own fiber and closing the
   * connection when the handler ends. A failing handler ends only its own connection (the
   * failure is logged); the server keeps serving others.
   */
  readonly serve: <E, R>(handler: (connection: Connection) => Effect.Effect<void, E, R>) => Effect.Effect<never, Errors.UnixError, R>
  /** Peers accepted and authorized so far. */
  readonly accepted: number
  /** Peers refused by the policy so far. */
  readonly rejected: number
  /** Closes the listener and its open connections, and removes the socket file. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Binds, listens, and returns the server, closed with the current scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const listen = (
  options: ListenOptions
): Effect.Effect<UnixServer, Errors.AddressError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.gen(function*() {
        const address = yield* Effect.fromResult(Address.parse(options.address))
        if (address.kind === "unnamed") {
          return yield* new Errors.AddressNotFound({ message: "listen: a server needs a path or an @abstract name" })
        }
        const type = options.type ?? "stream"
        const fd = openSocket(driver, type)
        if (typeof fd !== "number") return yield* Effect.fail(fd)
        const bound = bindReplacingStale(driver, fd, type, address)
        if (bound !== undefined) {
          driver.binding.close(fd)
          return yield* Effect.fail(bound)
        }
        const failAfterBind = (error: Errors.UnixError) => {
          driver.binding.close(fd)
          if (address.kind === "path") driver.binding.unlink(address.text)
          return Effect.fail(error)
        }
        if (options.passCredentials) {
          driver.binding.setsockoptInt(fd, driver.binding.constants.SO_PASSCRED, 1)
        }
        if (address.kind === "path" && options.mode !== undefined) {
          const changed = driver.binding.chmod(address.text, options.mode)
          if (changed < 0) return yield* failAfterBind(errorFromErrno(driver.binding, -changed, "chmod", address.text))
        }
        const identity = address.kind === "path" ? fileIdentity(driver, address.text) : undefined
        const listening = driver.binding.listen(fd, options.backlog ?? 511)
        if (listening < 0) return yield* failAfterBind(errorFromErrno(driver.binding, -listening, "listen", address.text))
        return new Server(driver, fd, type, address, identity, options) as UnixServer
      })
    ) as Effect.Effect<UnixServer, Errors.AddressError, UnixDriver>,
    (server) => server.close
  )

/** `[dev, ino]` of the file at `path`, without following symlinks. */
const fileIdentity = (driver: UnixDriverShape, path: string): readonly [number, number] | undefined => {
  const out = new Float64Array(6)
  return driver.binding.lstat(path, out) < 0 ? undefined : [out[4]!, out[5]!]
}

/**
 * Binds; when the path is taken, replaces it only if it is a socket nobody listens on.
 */
const bindReplacingStale = (
  driver: UnixDriverShape,
  fd: number,
  type: SocketType,
  address: Address.Address
): Errors.UnixError | undefined => {
  const b = driver.binding
  const c = b.constants
  const result = b.bind(fd, address.bytes)
  if (result === 0) return undefined
  if (-result !== c.EADDRINUSE || address.kind !== "path") {
    return errorFromErrno(b, -result, "bind", address.text)
  }
  const stat = new Float64Array(6)
  if (b.lstat(address.text, stat) < 0) return errorFromErrno(b, -result, "bind", address.text)
  const kind = stat[0]! & c.S_IFMT
  if (kind !== c.S_IFSOCK) {
    const what = kind === c.S_IFLNK ? "a symbolic link" : kind === c.S_IFDIR ? "a directory" : "a file that is not a socket"
    return new Errors.AddressInUse({
      message: `bind ${address.text}: ${what} is in the way; it was left untouched`,
      errno: c.EADDRINUSE,
      code: "EADDRINUSE",
      syscall: "bind",
      address: address.text
    })
  }
  // A socket file: is anybody listening on it?
  const probe = openSocket(driver, type)
  if (typeof probe !== "number") return probe
  const connected = b.connect(probe, address.bytes)
  b.close(probe)
  if (-connected !== c.ECONNREFUSED) {
    return new Errors.AddressInUse({
      message: `bind ${address.text}: a live server is listening there`,
      errno: c.EADDRINUSE,
      code: "EADDRINUSE",
      syscall: "bind",
      address: address.text
    })
  }
  const removed = b.unlink(address.text)
  if (removed < 0 && -removed !== c.ENOENT) return errorFromErrno(b, -removed, "unlink", address.text)
  const again = b.bind(fd, address.bytes)
  return again === 0 ? undefined : errorFromErrno(b, -again, "bind", address.text)
}

/** accept4 failures that concern only the connection being accepted (it was reset). */
const transientAcceptErrors = new Set(["ECONNABORTED", "EPROTO"])

class Server implements UnixServer {
  readonly connections: Stream.Stream<Connection, Errors.UnixError>
  accepted = 0
  rejected = 0
  readonly #driver: UnixDriverShape
  readonly #open = new Set<SocketConnection>()
  readonly #identity: readonly [number, number] | undefined
  readonly #options: ListenOptions
  readonly #policy: Policy.Policy
  readonly #watch
  #closed = false

  constructor(
    driver: UnixDriverShape,
    readonly fd: number,
    readonly type: SocketType,
    readonly address: Address.Address,
    identity: readonly [number, number] | undefined,
    options: ListenOptions
  ) {
    this.#driver = driver
    this.#identity = identity
    this.#options = options
    this.#policy = options.authorize ?? Policy.sameUser
    this.#watch = driver.reactor.register(fd)
    driver.reactor.retain()
    this.connections = Stream.fromPull(Effect.succeed(this.#pull))
  }

  readonly #pull: Effect.Effect<NonEmptyReadonlyArray<Connection>, Errors.UnixError | Cause.Done> = Effect.suspend(
    () => {
      const self = this
      return Effect.gen(function*() {
        const b = self.#driver.binding
        const c = b.constants
        let pause = 10
        for (;;) {
          if (self.#closed) return yield* Cause.done()
          const fd = b.accept(self.fd)
          if (fd < 0) {
            const errno = -fd
            if (errno === c.EAGAIN) {
              yield* waitReadable(self.#watch)
            } else if (errno === c.EMFILE || errno === c.ENFILE || errno === c.ENOBUFS || errno === c.ENOMEM) {
              // Out of descriptors: back off (no busy loop) and try again once some are freed.
              yield* Effect.sleep(pause)
              pause = Math.min(pause * 2, 1000)
            } else if (errno !== c.EINTR && !transientAcceptErrors.has(b.errname(errno))) {
              return yield* Effect.fail(errorFromErrno(b, errno, "accept4", self.address.text))
            }
            continue
          }
          pause = 10
          const connection = yield* self.#admit(fd)
          if (connection !== undefined) return [connection] as const
        }
      })
    }
  )

  /** Checks the peer before reading anything; returns the connection, or undefined if refused. */
  #admit(fd: number): Effect.Effect<Connection | undefined> {
    const self = this
    const driver = this.#driver
    return Effect.gen(function*() {
      const peer = readPeer(driver, fd)
      if ("_tag" in peer) {
        driver.binding.close(fd)
        return undefined
      }
      const allowed = yield* Policy.authorize(self.#policy, peer, { uid: driver.euid, gid: driver.egid })
      if (!allowed || self.#closed) {
        driver.binding.close(fd)
        if (!allowed) {
          self.rejected++
          const onRejected = self.#options.onRejected
          if (onRejected !== undefined) {
            yield* onRejected(
              new Errors.PeerRejected({
                message: `${self.address.text}: refused peer pid ${peer.pid} uid ${peer.uid} gid ${peer.gid} (policy ${self.#policy.name})`,
                address: self.address.text,
                peer,
                policy: self.#policy.name
              })
            ).pipe(Effect.catchCause(() => Effect.void))
          }
        }
        return undefined
      }
      self.accepted++
      const connection: SocketConnection = new SocketConnection(driver, fd, self.type, peer, {
        framing: self.#options.framing,
        limits: self.#options.limits,
        passCredentials: self.#options.passCredentials,
        onClose: () => self.#open.delete(connection)
      })
      self.#open.add(connection)
      return connection
    })
  }

  serve = <E, R>(handler: (connection: Connection) => Effect.Effect<void, E, R>): Effect.Effect<never, Errors.UnixError, R> =>
    this.connections.pipe(
      Stream.runForEach((connection) =>
        handler(connection).pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.void
              : Effect.logWarning(`${this.address.text}: connection handler failed`, cause)
          ),
          Effect.ensuring(connection.close),
          Effect.forkChild,
          Effect.asVoid
        )
      ),
      Effect.andThen(Effect.never)
    )

  readonly close: Effect.Effect<void> = Effect.sync(() => {
    if (this.#closed) return
    this.#closed = true
    for (const connection of [...this.#open]) connection.closeNow()
    this.#watch.close()
    this.#driver.binding.close(this.fd)
    this.#driver.reactor.release()
    if (this.address.kind === "path" && this.#identity !== undefined) {
      const now = fileIdentity(this.#driver, this.address.text)
      if (now !== undefined && now[0] === this.#identity[0] && now[1] === this.#identity[1]) {
        this.#driver.binding.unlink(this.address.text)
      }
    }
  })
}
