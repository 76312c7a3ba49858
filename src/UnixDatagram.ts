/**
 * Datagram endpoints (SOCK_DGRAM): messages with boundaries, each from a sender with an
 * address, no connection.
 *
 * Model. `bind` names an endpoint in the current scope (a path, an `@abstract` name, or a
 * name the kernel picks: autobind) so others can send to it and see where replies go.
 * `sendTo(address, message)` sends one datagram; `connect(address)` fixes the destination
 * (and the only sender accepted) for `send`. Each received `Datagram` carries `from`, the
 * sender's address (unnamed when the sender never bound), its bytes, its descriptors and,
 * with `passCredentials: true`, the sender's credentials as the kernel reports them.
 *
 * Reading is pull-based: nothing is read until `receive` runs or `messages` is pulled. A
 * problem with one datagram (too large for the receive buffer, descriptors past the limits,
 * control data cut short) is that datagram's error: the datagram is dropped (its descriptors
 * closed), `receive` / `messages` fail with the typed error, and the endpoint stays open, so
 * running `receive` or `messages` again goes on with the next datagram. Only `Closed` is final.
 *
 * Sending never drops a datagram silently: a receiver whose queue is full makes `sendTo` and
 * `send` wait (retrying), a destination nobody is bound to fails with `ConnectionRefused` or
 * `AddressNotFound`, and one too large with `MessageTooLarge`. Descriptors are borrowed, as
 * everywhere in this package.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Address from "./Address.ts"
import { defaultLimits, type Limits } from "./Connection.ts"
import type { Credentials } from "./Credentials.ts"
import * as Errors from "./Errors.ts"
import { closeNumbers, type Fd } from "./Fd.ts"
import { bindAddress, type FileIdentity, removeIfOurs } from "./internal/bind.ts"
import { definedOnly, socketAddress } from "./internal/connection.ts"
import { errorFromErrno } from "./internal/errno.ts"
import { copyBytes } from "./internal/framing.ts"
import { openSocket, pollReadable } from "./internal/open.ts"
import { PACKETS, prepare, type SendError, SendQueue } from "./internal/outgoing.ts"
import type { Watch } from "./internal/reactor.ts"
import { ReadyQueue } from "./internal/ready.ts"
import { ReceivedFds } from "./internal/received.ts"
import type { Message, Outgoing } from "./Message.ts"
import { UnixDriver, type UnixDriverShape } from "./UnixDriver.ts"

/**
 * Options of `bind`.
 *
 * @category models
 * @since 0.1.0
 */
export interface BindOptions {
  /** `"/path"`, `"@abstract"`, or omitted / `""` for a name the kernel picks (autobind). */
  readonly address?: string | undefined
  /** File mode of the socket file (a path address only), e.g. `0o600`; never wider at any moment. */
  readonly mode?: number | undefined
  /**
   * Bind even in a directory another user could use to replace the socket (owned by another
   * user, or writable by everyone without the sticky bit), which is refused by default with
   * `PermissionDenied`.
   */
  readonly trustDirectory?: boolean | undefined
  /** Ask the kernel for each sender's credentials (SO_PASSCRED): `Datagram.credentials`. */
  readonly passCredentials?: boolean | undefined
  /**
   * `maxMessageBytes` is the receive buffer: a longer datagram fails with `MessageTooLarge`
   * (default and ceiling 256 KiB, above what AF_UNIX sockets send by default);
   * `maxFdsPerMessage` (0 closes every received descriptor at once) and `maxUnclaimedFds` as
   * for connections.
   */
  readonly limits?: Limits | undefined
}

/**
 * A received datagram.
 *
 * @category models
 * @since 0.1.0
 */
export interface Datagram extends Message {
  /** The sender's address: where replies go (unnamed when the sender never bound). */
  readonly from: Address.Address
}

/**
 * What receiving fails with. All but `Closed` concern one datagram: the endpoint stays open.
 *
 * @category errors
 * @since 0.1.0
 */
export type DatagramError =
  | Errors.Closed
  | Errors.MessageTooLarge
  | Errors.FdLimit
  | Errors.ControlTruncated
  | Errors.SystemError

/**
 * What sending fails with.
 *
 * @category errors
 * @since 0.1.0
 */
export type DatagramSendError = SendError | Errors.PathTooLong

/**
 * A bound datagram endpoint.
 *
 * @category models
 * @since 0.1.0
 */
export interface DatagramEndpoint {
  /** This endpoint's address (for autobind, the `@name` the kernel chose). */
  readonly address: Address.Address
  /** The socket's descriptor number, borrowed. */
  readonly fd: number
  /** The destination fixed by `connect`, if any. */
  readonly remoteAddress: Address.Address | undefined
  /** Receives one datagram (waiting for one if none is queued). */
  readonly receive: Effect.Effect<Datagram, DatagramError>
  /**
   * Received datagrams; fails on a datagram's error, after which it can be run again. One
   * consumer at a time; one that stops early leaves the datagrams already read for the next.
   */
  readonly messages: Stream.Stream<Datagram, DatagramError>
  /** Sends one datagram to `address`; resolves once the kernel queued it for the receiver. */
  readonly sendTo: (address: string, message: Outgoing) => Effect.Effect<void, DatagramSendError>
  /** Fixes the destination for `send`; from then on only that peer's datagrams are received. */
  readonly connect: (address: string) => Effect.Effect<void, Errors.AddressError>
  /** Sends one datagram to the `connect`ed destination. */
  readonly send: (message: Outgoing) => Effect.Effect<void, DatagramSendError>
  /** How many received descriptors are held neither closed nor taken. */
  readonly unclaimedFds: number
  /** Closes the socket, removes its file (if still ours), closes unclaimed descriptors. Idempotent. */
  readonly close: Effect.Effect<void>
}

/** The receive buffer's ceiling (the driver's shared buffer). */
const MAX_DATAGRAM_BYTES = 256 * 1024
/** Datagrams read per drain of the socket, at most. */
const BATCH = 64
/** Descriptors one datagram can carry (SCM_MAX_FD). */
const MAX_FDS = 253

/**
 * Binds a datagram endpoint, closed with the current scope. A stale socket file at the path
 * is replaced; anything else there is left alone (`AddressInUse`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const bind = (
  options: BindOptions = {}
): Effect.Effect<DatagramEndpoint, Errors.AddressError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.gen(function*() {
        const address = yield* Effect.fromResult(Address.parse(options.address ?? ""))
        const fd = openSocket(driver, "dgram")
        if (typeof fd !== "number") return yield* Effect.fail(fd)
        const identity = bindAddress(driver, fd, "dgram", address, options.mode, options.trustDirectory)
        if (identity !== undefined && "_tag" in identity) {
          driver.binding.close(fd)
          return yield* Effect.fail(identity)
        }
        if (options.passCredentials) driver.binding.setsockoptInt(fd, driver.binding.constants.SO_PASSCRED, 1)
        return new Endpoint(driver, fd, socketAddress(driver, fd, "local"), identity, options) as DatagramEndpoint
      })
    ) as Effect.Effect<DatagramEndpoint, Errors.AddressError, UnixDriver>,
    (endpoint) => endpoint.close
  )

/**
 * Adopts a datagram socket this process already has (inherited, for example from systemd, or
 * received): the endpoint owns it from then on (an `Fd` is taken) and never removes its file.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFd = (
  fd: Fd | number,
  options: Omit<BindOptions, "address" | "mode" | "trustDirectory"> = {}
): Effect.Effect<DatagramEndpoint, Errors.UnixError, UnixDriver | Scope.Scope> =>
  Effect.acquireRelease(
    UnixDriver.use((driver) =>
      Effect.suspend(() => {
        const b = driver.binding
        const c = b.constants
        const value = typeof fd === "number" ? fd : fd.value
        if (b.getsockoptInt(value, c.SO_DOMAIN) !== c.AF_UNIX || b.getsockoptInt(value, c.SO_TYPE) !== c.SOCK_DGRAM) {
          return Effect.fail(new Errors.Unsupported({ message: `descriptor ${value} is not a unix datagram socket` }))
        }
        const flags = b.getfl(value)
        const set = flags < 0 ? flags : b.setfl(value, flags | c.O_NONBLOCK)
        if (set < 0) return Effect.fail(errorFromErrno(b, -set, "fcntl"))
        b.setCloexec(value)
        if (options.passCredentials) b.setsockoptInt(value, c.SO_PASSCRED, 1)
        if (typeof fd !== "number") fd.take()
        return Effect.succeed(new Endpoint(driver, value, socketAddress(driver, value, "local"), undefined, options) as DatagramEndpoint)
      })
    ),
    (endpoint) => endpoint.close
  )

class Endpoint implements DatagramEndpoint {
  readonly messages: Stream.Stream<Datagram, DatagramError>
  remoteAddress: Address.Address | undefined
  readonly #driver: UnixDriverShape
  readonly #watch: Watch
  readonly #received: ReceivedFds
  readonly #queue: SendQueue
  readonly #identity: FileIdentity | undefined
  readonly #limits: typeof defaultLimits
  readonly #receiveBytes: number
  readonly #from = new Uint8Array(110)
  readonly #ready = new ReadyQueue<Datagram>()
  /** One pull: the next datagram, waiting for the socket as needed. */
  readonly #pull: Effect.Effect<NonEmptyReadonlyArray<Datagram>, DatagramError | Cause.Done>
  #error: DatagramError | undefined
  #closed = false

  constructor(
    driver: UnixDriverShape,
    readonly fd: number,
    readonly address: Address.Address,
    identity: FileIdentity | undefined,
    options: BindOptions
  ) {
    this.#driver = driver
    this.#identity = identity
    this.#limits = { ...defaultLimits, ...definedOnly(options.limits) } as typeof defaultLimits
    this.#receiveBytes = Math.min(this.#limits.maxMessageBytes, MAX_DATAGRAM_BYTES, driver.scratch.length)
    this.#watch = driver.reactor.register(fd)
    this.#received = new ReceivedFds(driver)
    this.#queue = new SendQueue(driver, fd, this.#watch, false)
    driver.reactor.retain()
    this.#pull = pollReadable(this.#watch, () => this.#poll())
    this.messages = Stream.fromPull(Effect.succeed(this.#pull))
  }

  get unclaimedFds(): number {
    return this.#received.size
  }

  get receive(): Effect.Effect<Datagram, DatagramError> {
    return Effect.map(this.#pull, (batch) => batch[0]!).pipe(
      Effect.catchIf(Cause.isDone, () => Effect.fail(closedError("recvmsg")))
    ) as Effect.Effect<Datagram, DatagramError>
  }

  // ---------------------------------------------------------------------------------------
  // Receiving

  /** The next datagram, a datagram's error, or undefined when it must wait. */
  #poll(): Effect.Effect<NonEmptyReadonlyArray<Datagram>, DatagramError | Cause.Done> | undefined {
    if (this.#ready.size === 0 && this.#error === undefined) {
      if (this.#closed) return Cause.done()
      this.#drain()
    }
    const datagram = this.#ready.take()
    if (datagram !== undefined) return Effect.succeed([datagram] as const)
    const error = this.#error
    if (error === undefined) return undefined
    if (error._tag !== "Closed") this.#error = undefined // one datagram's problem: reported once
    return Effect.fail(error)
  }

  /** Reads datagrams (a bounded batch) until EAGAIN or a datagram's error. */
  #drain(): void {
    const { binding, meta, scratch } = this.#driver
    const c = binding.constants
    for (let count = 0; count < BATCH; count++) {
      // Read no further than the consumer may hold (see the same rule for connections).
      if (this.#ready.size > 0 && this.#received.size + MAX_FDS > this.#limits.maxUnclaimedFds) return
      const n = binding.recvmsg(this.fd, scratch, 0, this.#receiveBytes, meta, this.#from)
      if (n < 0) {
        if (-n === c.EAGAIN) return
        if (-n === c.EINTR) continue
        this.#error = errorFromErrno(binding, -n, "recvmsg", this.address.text) as DatagramError
        return
      }
      const error = this.#accept(n)
      if (error !== undefined) {
        this.#error = error
        return
      }
    }
  }

  /** Turns the datagram just received (in the shared buffers) into a Datagram, or its error. */
  #accept(n: number): DatagramError | undefined {
    const { binding, meta, scratch } = this.#driver
    const c = binding.constants
    const flags = meta[0]!
    const fdCount = meta[1]!
    const numbers = fdCount === 0 ? [] : Array.from(meta.subarray(8, 8 + fdCount))
    const from = Address.fromBytes(this.#from.slice(0, Math.max(meta[6]!, 0)))
    const sender = from.text === "" ? "an unnamed sender" : from.text
    const reject = (error: DatagramError) => {
      closeNumbers(this.#driver.binding, numbers)
      return error
    }
    if ((flags & c.MSG_CTRUNC) !== 0) {
      return reject(
        new Errors.ControlTruncated({
          message: `recvmsg ${this.address.text}: control data from ${sender} truncated (MSG_CTRUNC); closed the ${numbers.length} descriptors that arrived`,
          syscall: "recvmsg",
          address: this.address.text,
          closedFds: numbers.length
        })
      )
    }
    if ((flags & c.MSG_TRUNC) !== 0) {
      return reject(
        new Errors.MessageTooLarge({
          message: `recvmsg ${this.address.text}: a ${meta[7]}-byte datagram from ${sender} is larger than the ${this.#receiveBytes}-byte receive buffer (MSG_TRUNC); dropped`,
          syscall: "recvmsg",
          address: this.address.text,
          size: meta[7]!,
          limit: this.#receiveBytes
        })
      )
    }
    let fds = numbers
    if (numbers.length > 0) {
      const limits = this.#limits
      if (limits.maxFdsPerMessage === 0) {
        closeNumbers(this.#driver.binding, numbers)
        fds = []
      } else if (numbers.length > limits.maxFdsPerMessage) {
        return reject(tooMany(this.address, sender, numbers.length, "limits.maxFdsPerMessage", limits.maxFdsPerMessage))
      } else if (this.#received.size + numbers.length > limits.maxUnclaimedFds) {
        return reject(
          tooMany(this.address, sender, this.#received.size + numbers.length, "limits.maxUnclaimedFds", limits.maxUnclaimedFds)
        )
      }
    }
    const credentials: Credentials | undefined = meta[2] === 1
      ? { pid: meta[3]!, uid: meta[4]! >>> 0, gid: meta[5]! >>> 0 }
      : undefined
    const data = copyBytes(this.#driver.allocate, scratch, 0, n)
    const owned = this.#received.own(fds)
    this.#ready.push(credentials === undefined ? { from, data, fds: owned } : { from, data, fds: owned, credentials })
    return undefined
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  sendTo = (address: string, message: Outgoing): Effect.Effect<void, DatagramSendError> =>
    Effect.suspend((): Effect.Effect<void, DatagramSendError> => {
      if (this.#closed) return Effect.fail(closedError("sendmsg"))
      const parsed = Address.parse(address)
      if (parsed._tag === "Failure") return Effect.fail(parsed.failure)
      if (parsed.success.kind === "unnamed") return Effect.fail(noDestination("sendTo"))
      const entry = prepare(this.#driver, message, PACKETS, parsed.success)
      return "data" in entry ? this.#queue.enqueue(entry) : Effect.fail(entry)
    })

  send = (message: Outgoing): Effect.Effect<void, DatagramSendError> =>
    Effect.suspend((): Effect.Effect<void, DatagramSendError> => {
      if (this.#closed) return Effect.fail(closedError("sendmsg"))
      if (this.remoteAddress === undefined) return Effect.fail(noDestination("send"))
      const entry = prepare(this.#driver, message, PACKETS)
      return "data" in entry ? this.#queue.enqueue(entry) : Effect.fail(entry)
    })

  connect = (address: string): Effect.Effect<void, Errors.AddressError> =>
    Effect.suspend((): Effect.Effect<void, Errors.AddressError> => {
      if (this.#closed) return Effect.fail(new Errors.SystemError({ message: "connect: the endpoint is closed", syscall: "connect" }))
      const parsed = Address.parse(address)
      if (parsed._tag === "Failure") return Effect.fail(parsed.failure)
      if (parsed.success.kind === "unnamed") return Effect.fail(noDestination("connect"))
      const result = this.#driver.binding.connect(this.fd, parsed.success.bytes)
      if (result < 0) return Effect.fail(errorFromErrno(this.#driver.binding, -result, "connect", address) as Errors.AddressError)
      this.remoteAddress = parsed.success
      return Effect.void
    })

  // ---------------------------------------------------------------------------------------
  // Lifetime

  readonly close: Effect.Effect<void> = Effect.sync(() => {
    if (this.#closed) return
    this.#closed = true
    this.#queue.close(() => closedError("sendmsg"))
    this.#error = closedError("recvmsg")
    this.#watch.close()
    this.#driver.binding.close(this.fd)
    this.#ready.clear() // their descriptors are among the unclaimed ones
    this.#received.closeAll()
    this.#driver.reactor.release()
    removeIfOurs(this.#driver, this.address, this.#identity)
  })
}

const closedError = (syscall: string) => new Errors.Closed({ message: `${syscall}: the endpoint is closed`, syscall })

const noDestination = (operation: string) =>
  new Errors.AddressNotFound({
    message: operation === "send"
      ? "send: the endpoint is not connected: use sendTo(address, …), or connect(address) first"
      : `${operation}: an empty address names no socket`
  })

const tooMany = (address: Address.Address, sender: string, count: number, limit: string, value: number) =>
  new Errors.FdLimit({
    message: `recvmsg ${address.text}: ${count} descriptors from ${sender} exceed ${limit} (${value}); the datagram was dropped and its descriptors closed`,
    address: address.text,
    limit: value
  })
