/**
 * The server process of the stress scenarios: `node --import tsx stress/server.ts`.
 *
 * It hosts the listeners and datagram endpoints the runner asks for (requests on stdin, see
 * control.ts), serves every connection with one of the handlers below, and keeps a tally of
 * how each connection ended. The runner measures this process from the outside (/proc) while
 * it serves: its descriptors, its memory and its CPU time are what the scenarios check, so
 * nothing here runs in the runner's process.
 */
import { Cause, Deferred, Effect, Exit, Fiber, Option, Stream } from "effect"
import type { Connection, Framing, Limits, SocketType } from "../src/Connection.ts"
import { Fd, UnixDatagram, UnixServer } from "../src/index.ts"
import type { Message } from "../src/Message.ts"
import * as NodeUnix from "../adapters/node/index.ts"
import { type Json, main, ownFds, processRequests, ready, serveRequests } from "./control.ts"
import { Digest, isHealth, kindLetter, readSequenceNumber } from "./wire.ts"

/** The library's error tags: a connection that ends with anything else is a finding. */
const typedErrors = new Set([
  "AddressInUse",
  "AddressNotFound",
  "PermissionDenied",
  "ConnectionRefused",
  "PathTooLong",
  "PeerRejected",
  "MessageTooLarge",
  "FdLimit",
  "ControlTruncated",
  "ProtocolError",
  "Closed",
  "Unsupported",
  "SystemError"
])


/** How a connection (or one datagram) ended. */
interface Ending {
  /** "end" for a clean end of stream, the error's tag, or "timeout", "untyped", "defect". */
  readonly outcome: string
  readonly message?: string
  /** For FdLimit: the limit the message names ("limits.maxFdsInFlight") or the errno code. */
  readonly limitName?: string
  readonly size?: number
  readonly limit?: number
}

const isTagged = (value: unknown): value is { readonly _tag: string; readonly message?: string } =>
  typeof value === "object" && value !== null && "_tag" in value

const describeError = (error: { readonly _tag: string; readonly message?: string } & Record<string, unknown>): Ending => {
  const message = error.message ?? ""
  const fields: { size?: number; limit?: number } = {}
  if (typeof error["size"] === "number") fields.size = error["size"]
  if (typeof error["limit"] === "number") fields.limit = error["limit"]
  const limitName = error._tag === "FdLimit" ? /limits\.\w+/.exec(message)?.[0] ?? String(error["code"] ?? "other") : undefined
  return { outcome: error._tag, message, ...fields, ...(limitName === undefined ? {} : { limitName }) }
}

const ending = (exit: Exit.Exit<unknown, unknown>): Ending => {
  if (Exit.isSuccess(exit)) return { outcome: "end" }
  const cause = exit.cause
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const value = error.value
    if (Cause.isTimeoutError(value)) return { outcome: "timeout" }
    if (isTagged(value) && typedErrors.has(value._tag)) return describeError(value as never)
    return { outcome: "untyped", message: String(value) }
  }
  if (Cause.hasDies(cause)) return { outcome: "defect", message: Cause.pretty(cause).slice(0, 2000) }
  return { outcome: "interrupted" }
}

/** What one listener or endpoint saw. */
class Tally {
  accepted = 0
  open = 0
  outcomes: Record<string, number> = {}
  fdLimits: Record<string, number> = {}
  /** One message per outcome, to say what happened. */
  samples: Record<string, string> = {}
  messages = 0
  bytes = 0
  fds = 0
  /** This process's descriptor count at the moment each error surfaced (when asked for). */
  fdsAtError: Array<number> = []
  /** `size` and `limit` of MessageTooLarge errors (first 2,000). */
  tooLarge: Array<readonly [number | undefined, number | undefined]> = []
  violations: Array<string> = []
  violationCount = 0
  /** Messages per connection, for handlers that check them (first 2,000 connections). */
  perConnection: Array<number> = []

  record(end: Ending): void {
    this.outcomes[end.outcome] = (this.outcomes[end.outcome] ?? 0) + 1
    if (end.limitName !== undefined) this.fdLimits[end.limitName] = (this.fdLimits[end.limitName] ?? 0) + 1
    if (end.outcome === "MessageTooLarge" && this.tooLarge.length < 2000) this.tooLarge.push([end.size, end.limit])
    if (end.outcome !== "end" && this.samples[end.outcome] === undefined) this.samples[end.outcome] = end.message ?? ""
    if (end.outcome === "timeout" || end.outcome === "untyped" || end.outcome === "defect") {
      this.violation(`a connection ended with ${end.outcome}${end.message === undefined ? "" : `: ${end.message}`}`)
    }
  }

  count(message: Message): void {
    this.messages++
    this.bytes += message.data.length
    this.fds += message.fds.length
  }

  violation(text: string): void {
    this.violationCount++
    if (this.violations.length < 20) this.violations.push(text)
  }
}

interface HostOptions {
  readonly name: string
  readonly address: string
  readonly type?: SocketType
  readonly framing?: Framing
  readonly limits?: Limits
  readonly backlog?: number
  readonly handler: string
  /** Per-connection timeout: a connection still open after it is a hang. */
  readonly timeoutMs?: number
  /** Record this process's descriptor count whenever a connection fails (sequential tests). */
  readonly fdsAtError?: boolean
  /** `sequence`: how many messages each connection must deliver. */
  readonly expect?: number
  /** `slow`: bytes per second the consumer reads at most. */
  readonly rate?: number
  /** `sink`, `close` and datagrams: milliseconds of work per message (a consumer that does something). */
  readonly workMs?: number
}

interface Host {
  readonly options: HostOptions
  tally: Tally
  fiber?: Fiber.Fiber<unknown, unknown>
  accepted: () => number
  /** The consumer of `slow` stops pulling until then (performance.now() time). */
  pausedUntil: number
  serveFailure?: string
}

/** What a handler does with one connection, and what it does once the outcome is known. */
interface Handling {
  readonly run: Effect.Effect<void, unknown>
  readonly after?: (end: Ending) => Effect.Effect<void>
  /** False for connections that are not part of the tally (health checks). */
  readonly counted?: () => boolean
}

type Handler = (connection: Connection, host: Host) => Handling

/** The per-message work a handler simulates, if any. */
const work = (host: Host): Effect.Effect<void> =>
  host.options.workMs === undefined ? Effect.void : Effect.sleep(host.options.workMs)

const handlers: Record<string, Handler> = {
  /**
   * Fuzz: hashes every frame (length, descriptor kinds, bytes) and, once the connection
   * ended, answers with how it ended and the hash, so the sender can compare it with what it
   * sent. Health checks are echoed at once.
   */
  fuzz: (connection) => {
    const digest = new Digest()
    let health = false
    return {
      run: connection.handleMessages((message) => {
        if (isHealth(message.data)) {
          health = true
          return connection.send(message.data)
        }
        digest.add(message.data, message.fds.map((fd) => kindLetter(fd.type())).join(""))
        return Effect.void
      }),
      counted: () => !health,
      after: (end) =>
        connection.send(JSON.stringify({ outcome: end.outcome, limitName: end.limitName, frames: digest.frames, hash: digest.value }))
          .pipe(Effect.ignore)
    }
  },

  /** Echoes every message's bytes. */
  echo: (connection, host) => ({
    run: connection.handleMessages((message) => {
      host.tally.count(message)
      return connection.send(message.data)
    })
  }),

  /** Ignores every message; `handleMessages` closes their descriptors when the handler returns. */
  sink: (connection, host) => ({
    run: connection.handleMessages((message) => Effect.andThen(Effect.sync(() => host.tally.count(message)), work(host)))
  }),

  /** Closes each message's descriptors itself as it reads. */
  close: (connection, host) => ({
    run: Stream.runForEach(connection.messages, (message) =>
      Effect.andThen(
        Effect.sync(() => {
          host.tally.count(message)
          for (const fd of message.fds) fd.close()
        }),
        work(host)
      ))
  }),

  /** Reads and keeps every descriptor (the careless consumer `maxUnclaimedFds` is for). */
  hold: (connection, host) => ({
    run: Stream.runForEach(connection.messages, (message) => Effect.sync(() => host.tally.count(message)))
  }),

  /**
   * Load: each message is a sequence number that must be the previous one plus one (exactly
   * once, in order), and is echoed back as the acknowledgement.
   */
  sequence: (connection, host) => {
    let next = 0
    return {
      run: connection.handleMessages((message) => {
        host.tally.count(message)
        const n = readSequenceNumber(message.data)
        if (n !== next) host.tally.violation(`expected sequence number ${next}, received ${n}`)
        next = n + 1
        return connection.send(message.data)
      }),
      after: () =>
        Effect.sync(() => {
          if (host.tally.perConnection.length < 2000) host.tally.perConnection.push(next)
          if (host.options.expect !== undefined && next !== host.options.expect) {
            host.tally.violation(`a connection delivered ${next} of ${host.options.expect} messages`)
          }
        })
    }
  },

  /** A slow consumer: reads at most `rate` bytes per second, and not at all while paused. */
  slow: (connection, host) => ({
    run: Stream.runForEach(connection.messages, (message) =>
      Effect.gen(function*() {
        host.tally.count(message)
        const rate = host.options.rate ?? 64 * 1024 * 1024
        yield* Effect.sleep(message.data.length / rate * 1000)
        while (performance.now() < host.pausedUntil) yield* Effect.sleep(10)
      }))
  })
}

/** Serves one connection: runs its handler under the timeout and tallies how it ended. */
const serveOne = (host: Host, connection: Connection): Effect.Effect<void> =>
  Effect.gen(function*() {
    const handling = handlers[host.options.handler]!(connection, host)
    host.tally.accepted++
    host.tally.open++
    const exit = yield* handling.run.pipe(Effect.timeout(host.options.timeoutMs ?? 60_000), Effect.exit)
    // Counted now, while the connection is still open: what its failure left behind.
    if (host.options.fdsAtError === true && Exit.isFailure(exit)) host.tally.fdsAtError.push(ownFds())
    const end = ending(exit)
    if (handling.counted?.() ?? true) host.tally.record(end)
    if (handling.after !== undefined) yield* handling.after(end)
    host.tally.open--
  })

const listen = (host: Host): Effect.Effect<string, unknown> =>
  Effect.gen(function*() {
    const bound = yield* Deferred.make<string, unknown>()
    const options = host.options
    host.fiber = yield* Effect.forkDetach(
      Effect.scoped(Effect.gen(function*() {
        const server = yield* UnixServer.listen({
          address: options.address,
          type: options.type,
          framing: options.framing,
          limits: options.limits,
          backlog: options.backlog
        })
        host.accepted = () => server.accepted
        yield* Deferred.succeed(bound, server.address.text)
        yield* server.serve((connection) => serveOne(host, connection))
      })).pipe(
        Effect.onError((cause) =>
          Effect.andThen(
            Effect.sync(() => {
              if (!Cause.hasInterruptsOnly(cause)) host.serveFailure = Cause.pretty(cause).slice(0, 2000)
            }),
            Deferred.failCause(bound, cause)
          )
        ),
        Effect.provide(NodeUnix.layer)
      )
    )
    return yield* Deferred.await(bound)
  })

/**
 * A datagram endpoint: reads datagrams with the handler's policy (`close` or `hold`). A
 * datagram's error (too many descriptors) is tallied and reading goes on with the next one.
 */
const bind = (host: Host): Effect.Effect<string, unknown> =>
  Effect.gen(function*() {
    const bound = yield* Deferred.make<string, unknown>()
    const options = host.options
    host.fiber = yield* Effect.forkDetach(
      Effect.scoped(Effect.gen(function*() {
        const endpoint = yield* UnixDatagram.bind({ address: options.address, limits: options.limits })
        yield* Deferred.succeed(bound, endpoint.address.text)
        const read = Stream.runForEach(endpoint.messages, (datagram) =>
          Effect.andThen(
            Effect.sync(() => {
              host.tally.count(datagram)
              if (options.handler === "close") for (const fd of datagram.fds) fd.close()
            }),
            work(host)
          ))
        for (;;) {
          const exit = yield* Effect.exit(read)
          if (Exit.isFailure(exit)) {
            if (options.fdsAtError === true) host.tally.fdsAtError.push(ownFds())
            const end = ending(exit)
            host.tally.record(end)
            if (end.outcome === "Closed" || !typedErrors.has(end.outcome)) return
          }
        }
      })).pipe(
        Effect.onError((cause) => Deferred.failCause(bound, cause)),
        Effect.provide(NodeUnix.layer)
      )
    )
    return yield* Deferred.await(bound)
  })

const statsOf = (host: Host): Json => {
  const t = host.tally
  return {
    accepted: host.accepted(),
    handled: t.accepted,
    open: t.open,
    outcomes: t.outcomes,
    fdLimits: t.fdLimits,
    samples: t.samples,
    messages: t.messages,
    bytes: t.bytes,
    fds: t.fds,
    fdsAtError: t.fdsAtError,
    tooLarge: t.tooLarge,
    violations: t.violations,
    violationCount: t.violationCount,
    perConnection: t.perConnection,
    serveFailure: host.serveFailure,
    /** Descriptors the garbage-collection backstop had to close in this process: leaks, each one. */
    closedByGarbageCollector: Fd.closedByGarbageCollector()
  }
}

const program = Effect.gen(function*() {
  const hosts = new Map<string, Host>()
  const host = (name: string): Host => {
    const found = hosts.get(name)
    if (found === undefined) throw new Error(`no listener named ${name}`)
    return found
  }
  const make = (request: Json): Host => {
    const created: Host = { options: request as HostOptions, tally: new Tally(), accepted: () => 0, pausedUntil: 0 }
    hosts.set(created.options.name, created)
    return created
  }
  yield* ready({ pid: process.pid, fds: ownFds() })
  yield* serveRequests({
    listen: (request) => Effect.map(listen(make(request)), (address) => ({ address })),
    bind: (request) => Effect.map(bind(make(request)), (address) => ({ address })),
    stats: (request) => Effect.sync(() => statsOf(host(request.name))),
    /** Starts a fresh tally (the listener keeps running). */
    reset: (request) => Effect.sync(() => void (host(request.name).tally = new Tally())),
    /** Closes the listener (and every connection it still has). */
    close: (request) =>
      Effect.suspend(() => {
        const closing = host(request.name)
        hosts.delete(request.name)
        return closing.fiber === undefined ? Effect.void : Fiber.interrupt(closing.fiber)
      }),
    pause: (request) => Effect.sync(() => void (host(request.name).pausedUntil = performance.now() + Number(request.ms))),
    fds: () => Effect.sync(ownFds),
    ...processRequests
  })
})

main(program.pipe(Effect.scoped))
