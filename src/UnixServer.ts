/**
 * Listening sockets: `serv_listen` and `serv_accept`, with the uid check built in.
 *
 * `listen` binds and listens in the current scope; closing the scope closes the listener,
 * removes the socket file (only if it is still the one this server created), and then closes
 * every connection it accepted that is still open: a peer that sees its connection end can
 * bind the address at once. A stale socket file (nobody listening) is replaced;
 * a live listener gives `AddressInUse`; a file that is not a socket (or a symlink) is never
 * removed. `mode` is set on the socket before `bind` creates its file, so there is no moment
 * in which the file is reachable wider than asked (and nobody can connect before `listen`).
 *
 * Accepting is pull-based like reading: `connections` accepts as it is pulled. Each accepted
 * peer's `SO_PEERCRED` is checked by `authorize` (default `Policy.sameUser`) before anything
 * is read from it. A refused peer is closed at once, counted in `rejected`, and reported to
 * `onRejected`; it never appears in `connections`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Address from "./Address.ts"
import type { Connection, ConnectionOptions, SocketType } from "./Connection.ts"
import type { PeerCredentials } from "./Credentials.ts"
import * as Errors from "./Errors.ts"
import { Fd } from "./Fd.ts"
import { bindAddress, type FileIdentity, removeIfOurs } from "./internal/bind.ts"
import { SocketConnection, socketAddress, UNNAMED } from "./internal/connection.ts"
import { readPeer, SocketHandle } from "./internal/peer.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { openSocket, pollReadable, typeName } from "./internal/open.ts"
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
  /**
   * Bind even in a directory another user could use to replace the socket (owned by another
   * user, or writable by everyone without the sticky bit), which is refused by default with
   * `PermissionDenied`.
   */
  readonly trustDirectory?: boolean | undefined
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
  /** The name systemd gave the socket (`LISTEN_FDNAMES`), for servers from `fromListenFds`. */
  readonly name?: string | undefined
  readonly type: SocketType
  /** The listening descriptor, borrowed. */
  readonly fd: number
  /** Authorized connections, accepted as they are pulled. One consumer at a time. */
  readonly connections: Stream.Stream<Connection, Errors.UnixError>
  /**
   * Accepts forever, running `handler` for each connection in its own fiber and closing the
   * connection when the handler ends. A failing handler ends only its own connection (the
   * failure is logged as a warning); the server keeps serving others. Closing the server
   * closes its connections: handlers that then fail with `Closed` end without a warning.
   */
  readonly serve: <E, R>(handler: (connection: Connection) => Effect.Effect<void, E, R>) => Effect.Effect<never, Errors.UnixError, R>
  /** Peers accepted and authorized so far. */
  readonly accepted: number
  /** Peers refused by the policy so far. */
  readonly rejected: number
  /** Closes the listener and its open connections, and removes the socket file. Idempotent. */
  readonly close: Effect.Effect<void>
  /**
   * Stops accepting and takes the listening socket out of this server, as an owned `Fd`, to
   * hand it to another process (which adopts it with `fromFd`) for an upgrade that refuses no
   * connection: those arriving meanwhile wait in the socket's backlog. The socket file stays;
   * connections already accepted stay open.
   */
  readonly detach: Effect.Effect<Fd, Errors.Closed>
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
        const identity = bindAddress(driver, fd, type, address, options.mode, options.trustDirectory)
        if (identity !== undefined && "_tag" in identity) {
          driver.binding.close(fd)
          return yield* Effect.fail(identity)
        }
        if (options.passCredentials) {
          driver.binding.setsockoptInt(fd, driver.binding.constants.SO_PASSCRED, 1)
        }
        const listening = driver.binding.listen(fd, options.backlog ?? 511)
        if (listening < 0) {
          driver.binding.close(fd)
          removeIfOurs(driver, address, identity)
          return yield* Effect.fail(errorFromErrno(driver.binding, -listening, "listen", address.text))
        }
        return new Server(driver, fd, type, address, identity, options) as UnixServer
      })
    ) as Effect.Effect<UnixServer, Errors.AddressError, UnixDriver>,
    (server) => server.close
  )

/**
 * Options of `fromFd` and `fromListenFds`: those of `listen` that concern accepting.
 *
 * @category models
 * @since 0.1.0
 */
export type AdoptOptions = Omit<ListenOptions, "address" | "type" | "backlog" | "mode" | "trustDirectory">

/**
 * Adopts a listening STREAM or SEQPACKET socket this process already has (inherited, or
 * received from another process, for example to take over a service without refusing a
 * connection): the server owns the descriptor from then on (an `Fd` is taken) and switches it
 * to non-blocking mode. Closing the server closes the descriptor but never removes the socket
 * file, which is not its own.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFd = (
  fd: Fd | number,
  options: AdoptOptions & { readonly name?: string | undefined } = {}
): Effect.Effect<UnixServer, Errors.UnixError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.suspend(() => {
        const value = typeof fd === "number" ? fd : fd.value
        const type = listeningType(driver, value)
        if (typeof type !== "string") return Effect.fail(type)
        const b = driver.binding
        const flags = b.getfl(value)
        const set = flags < 0 ? flags : b.setfl(value, flags | b.constants.O_NONBLOCK)
        if (set < 0) return Effect.fail(errorFromErrno(b, -set, "fcntl"))
        b.setCloexec(value) // inherited sockets come without it: our own children must not get them
        if (typeof fd !== "number") fd.take()
        return Effect.succeed(new Server(driver, value, type, socketAddress(driver, value, "local"), undefined, { address: "", ...options }) as UnixServer)
      })
    ),
    (server) => server.close
  )

/** The socket type of a listening AF_UNIX socket, or why `fd` is not one. */
const listeningType = (driver: UnixDriverShape, fd: number): SocketType | Errors.UnixError => {
  const b = driver.binding
  const c = b.constants
  const domain = b.getsockoptInt(fd, c.SO_DOMAIN)
  if (domain < 0) return errorFromErrno(b, -domain, "getsockopt(SO_DOMAIN)")
  const type = typeName(driver, b.getsockoptInt(fd, c.SO_TYPE))
  const listening = b.getsockoptInt(fd, c.SO_ACCEPTCONN) === 1
  if (domain === c.AF_UNIX && listening && (type === "stream" || type === "seqpacket")) return type
  const what = domain !== c.AF_UNIX
    ? "not a unix socket"
    : type === "dgram"
    ? "a datagram socket (adopt it with UnixDatagram.fromFd)"
    : "not listening"
  return new Errors.Unsupported({ message: `descriptor ${fd} is ${what}: a server needs a listening unix STREAM or SEQPACKET socket` })
}

/** systemd passes sockets from this descriptor on (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3

/**
 * Adopts the listening sockets systemd (or any socket activator) passed to this process:
 * `LISTEN_FDS` descriptors from 3 on, meant for this process when `LISTEN_PID` is its pid,
 * named by `LISTEN_FDNAMES`. Returns them in order, each with its `name`; none when they were
 * not meant for this process. As `sd_listen_fds(1)` does, it then removes the three variables
 * from the environment so that child processes do not take them for their own.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromListenFds = (
  options: AdoptOptions = {}
): Effect.Effect<ReadonlyArray<UnixServer>, Errors.UnixError, UnixDriver | Scope.Scope> =>
  UnixDriver.use((driver) => {
    const pid = Number(driver.getenv("LISTEN_PID"))
    const count = Number(driver.getenv("LISTEN_FDS"))
    const names = (driver.getenv("LISTEN_FDNAMES") ?? "").split(":")
    for (const variable of ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]) driver.unsetenv(variable)
    if (pid !== driver.binding.getpid() || !Number.isInteger(count) || count <= 0) return Effect.succeed([])
    return Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => fromFd(LISTEN_FDS_START + i, { ...options, name: names[i] || "unknown" })
    )
  })

/** accept4 failures that concern only the connection being accepted (it was reset). */
const transientAcceptErrors = new Set(["ECONNABORTED", "EPROTO"])

/**
 * Whether a handler only failed because its connection was closed under it (`Closed`), as
 * closing the server does to every connection it holds: that is shutdown, not a failure to log.
 */
const endedByClose = (cause: Cause.Cause<unknown>): boolean =>
  cause.reasons.every((reason) =>
    Cause.isInterruptReason(reason) || (Cause.isFailReason(reason) && reason.error instanceof Errors.Closed)
  )

/**
 * What a handler's fiber does with its failure once `#handled` has dealt with it: nothing. (It
 * declares its one parameter: `catchCause` wraps a function of any other arity in a closure.)
 */
const ignoreCause = (_cause: Cause.Cause<unknown>) => Effect.void

class Server implements UnixServer {
  readonly connections: Stream.Stream<Connection, Errors.UnixError>
  accepted = 0
  rejected = 0
  readonly #driver: UnixDriverShape
  readonly #open = new Set<SocketConnection>()
  readonly #identity: FileIdentity | undefined
  readonly #options: ListenOptions
  readonly #policy: Policy.Policy
  readonly #watch
  readonly name: string | undefined
  #closed = false

  constructor(
    driver: UnixDriverShape,
    readonly fd: number,
    readonly type: SocketType,
    readonly address: Address.Address,
    identity: FileIdentity | undefined,
    options: ListenOptions & { readonly name?: string | undefined }
  ) {
    this.name = options.name
    this.#driver = driver
    this.#identity = identity
    this.#options = options
    this.#policy = options.authorize ?? Policy.sameUser
    this.#watch = driver.reactor.register(fd)
    driver.reactor.retain()
    this.connections = Stream.fromPull(Effect.succeed(this.#pull))
  }

  /** The peer address `accept4` reports for the connection being accepted. */
  readonly #peerAddress = new Uint8Array(110)
  readonly #peerAddressLength = new Int32Array(1)
  /** The back-off while the process is out of descriptors, ms. */
  #pause = 10

  readonly #pull: Effect.Effect<NonEmptyReadonlyArray<Connection>, Errors.UnixError | Cause.Done> = Effect.suspend(
    () => pollReadable(this.#watch, () => this.#acceptNow())
  )

  /**
   * Accepts until a peer is admitted (its connection, or the Effect of an asynchronous
   * policy), or gives undefined when the backlog is empty: wait for the listener to be readable.
   */
  #acceptNow(): Effect.Effect<NonEmptyReadonlyArray<Connection>, Errors.UnixError | Cause.Done> | undefined {
    const b = this.#driver.binding
    const c = b.constants
    for (;;) {
      if (this.#closed) return Cause.done()
      const fd = b.accept(this.fd, this.#peerAddress, this.#peerAddressLength)
      if (fd < 0) {
        const errno = -fd
        if (errno === c.EAGAIN) return undefined
        if (errno === c.EMFILE || errno === c.ENFILE || errno === c.ENOBUFS || errno === c.ENOMEM) {
          // Out of descriptors: back off (no busy loop) and try again once some are freed.
          const pause = this.#pause
          this.#pause = Math.min(pause * 2, 1000)
          return Effect.andThen(Effect.sleep(pause), this.#pull)
        }
        if (errno === c.EINTR || transientAcceptErrors.has(b.errname(errno))) continue
        return Effect.fail(errorFromErrno(b, errno, "accept4", this.address.text))
      }
      this.#pause = 10
      const length = this.#peerAddressLength[0]!
      const remote = length === 0 ? UNNAMED : Address.fromBytes(this.#peerAddress.slice(0, length))
      const admitted = this.#admit(fd, remote)
      if (admitted === undefined) continue
      if (admitted instanceof SocketConnection) return Effect.succeed([admitted] as const)
      return Effect.flatMap(admitted, (connection) => connection === undefined ? this.#pull : Effect.succeed([connection] as const))
    }
  }

  /**
   * Checks the peer before reading anything; gives the connection, or undefined if refused
   * (an Effect only when the policy's verdict or the rejection hook is one).
   */
  #admit(fd: number, remote: Address.Address): SocketConnection | undefined | Effect.Effect<SocketConnection | undefined> {
    const driver = this.#driver
    const socket = new SocketHandle(fd)
    const peer = readPeer(driver, socket)
    if ("_tag" in peer) {
      socket.closed = true
      driver.binding.close(fd)
      return undefined
    }
    const verdict = Policy.decideNow(this.#policy.check(peer, { uid: driver.euid, gid: driver.egid }))
    if (typeof verdict === "boolean") return this.#decide(socket, peer, remote, verdict)
    return Effect.flatMap(verdict, (allowed) => {
      const decided = this.#decide(socket, peer, remote, allowed)
      return Effect.isEffect(decided) ? decided : Effect.succeed(decided)
    })
  }

  #decide(
    socket: SocketHandle,
    peer: PeerCredentials,
    remote: Address.Address,
    allowed: boolean
  ): SocketConnection | undefined | Effect.Effect<undefined> {
    if (!allowed || this.#closed) {
      socket.closed = true
      this.#driver.binding.close(socket.fd)
      if (!allowed) return this.#rejected(peer)
      return undefined
    }
    this.accepted++
    const connection: SocketConnection = new SocketConnection(this.#driver, socket, this.type, peer, {
      framing: this.#options.framing,
      limits: this.#options.limits,
      passCredentials: this.#options.passCredentials,
      onClose: this.#forget,
      localAddress: this.address, // an accepted socket's own address is its listener's
      remoteAddress: remote
    })
    this.#open.add(connection)
    return connection
  }

  readonly #forget = (connection: SocketConnection): void => {
    this.#open.delete(connection)
  }

  /** Counts a refused peer and tells `onRejected`, if any. */
  #rejected(peer: PeerCredentials): undefined | Effect.Effect<undefined> {
    this.rejected++
    const onRejected = this.#options.onRejected
    if (onRejected === undefined) return undefined
    return onRejected(
      new Errors.PeerRejected({
        message: `${this.address.text}: refused peer pid ${peer.pid} uid ${peer.uid} gid ${peer.gid} (policy ${this.#policy.name})`,
        address: this.address.text,
        peer: { pid: peer.pid, uid: peer.uid, gid: peer.gid },
        policy: this.#policy.name
      })
    ).pipe(Effect.catchCause(() => Effect.void), Effect.as(undefined))
  }

  serve = <E, R>(handler: (connection: Connection) => Effect.Effect<void, E, R>): Effect.Effect<never, Errors.UnixError, R> =>
    this.connections.pipe(
      // Per connection one finalizer (close, then report a failure) and a shared catch: a
      // fiber waiting on an idle connection holds as little as it can.
      Stream.runForEach((connection) =>
        handler(connection).pipe(
          Effect.onExit((exit) => this.#handled(connection, exit)),
          Effect.catchCause(ignoreCause),
          Effect.forkChild,
          Effect.asVoid
        )
      ),
      Effect.andThen(Effect.never)
    )

  /** A handler ended: its connection closes, and a failure other than our own closing is logged. */
  #handled(connection: Connection, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    ;(connection as SocketConnection).closeNow() // every connection this server yields is one
    if (exit._tag === "Success" || Cause.hasInterruptsOnly(exit.cause) || (this.#closed && endedByClose(exit.cause))) {
      return Effect.void
    }
    return Effect.logWarning(`${this.address.text}: connection handler failed`, exit.cause)
  }

  // The listener goes first: by the time any connection's peer sees its end, nothing listens
  // at the address and the file is gone, so a successor told "done" by that end of stream can
  // bind the address at once.
  readonly close: Effect.Effect<void> = Effect.sync(() => {
    if (this.#closed) return
    this.#closed = true
    this.#watch.close()
    this.#driver.binding.close(this.fd)
    removeIfOurs(this.#driver, this.address, this.#identity)
    for (const connection of [...this.#open]) connection.closeNow()
    this.#driver.reactor.release()
  })

  readonly detach: Effect.Effect<Fd, Errors.Closed> = Effect.suspend(() => {
    if (this.#closed) return Effect.fail(new Errors.Closed({ message: "detach: the server is closed", syscall: "detach" }))
    this.#closed = true // stops accepting: a waiting `connections` ends
    this.#watch.close()
    this.#driver.reactor.release()
    return Effect.succeed(new Fd(this.fd, this.#driver))
  })
}
