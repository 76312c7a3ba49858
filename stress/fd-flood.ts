/**
 * Scenario 3, descriptor floods: 253 descriptors per message at full speed into a framed
 * STREAM server, a raw STREAM server, a SEQPACKET server and a datagram endpoint, each
 * consumer closing what it receives; then each limit crossed on purpose.
 *
 * With a consumer that closes what it receives, everything must flow: every message
 * delivered, no `FdLimit`, also when a backlog builds up in the kernel and one read brings
 * several messages. Each limit (`maxFdsPerMessage`, `maxFdsInFlight`, `maxUnclaimedFds`)
 * must end the connection (or drop the datagram) with `FdLimit` naming the limit, with the
 * excess descriptors already closed when the error surfaces: the server counts its own
 * descriptors at that moment, while the connection is still open.
 */
import { Effect, Exit, type Scope } from "effect"
import { type Connection, defaultLimits, type Framing, type Limits, type SocketType } from "../src/Connection.ts"
import { Fd, UnixDatagram, UnixSocket } from "../src/index.ts"
import type { UnixDriver } from "../src/UnixDriver.ts"
import {
  abstractName,
  ask,
  collected,
  count,
  deltaMb,
  failureText,
  type Findings,
  heapKept,
  type Helper,
  type Json,
  mb,
  memoryText,
  MiB,
  type Scenario,
  settledFds,
  startHelper,
  statsWhen,
  steadyFds,
  tallyText,
  watchPeaks
} from "./support.ts"
import { header, MAX_FDS_PER_FRAME } from "./wire.ts"

const FLOOD_MS = 1500
/** A consumer that does a little work per message lets a backlog build up in the kernel. */
const WORK_MS = 5
const SMALL_LIMIT = 16
/** Parts of one byte, each with 253 descriptors, that the `maxFdsPerMessage: 0` case sends at most. */
const TRICKLE_PARTS = 2000
/** Memory the server may reach at its peak (garbage included: millions of `Fd`s go through it). */
const PEAK_LIMIT = 256 * MiB

interface Listener {
  readonly name: string
  readonly type: SocketType | "dgram"
  readonly framing?: Framing
  readonly limits?: Limits
  readonly handler: string
  readonly workMs?: number
}

/** The flooded endpoints: each kind with a consumer that only closes, and one that also works. */
const floods: ReadonlyArray<Listener> = ([
  { name: "framed", type: "stream", handler: "sink" },
  { name: "raw", type: "stream", framing: "raw", handler: "close" },
  { name: "seqpacket", type: "seqpacket", handler: "sink" },
  { name: "dgram", type: "dgram", handler: "close" }
] as ReadonlyArray<Listener>).flatMap((l) => [l, { ...l, name: `${l.name}-busy`, workMs: WORK_MS }])

const listeners: ReadonlyArray<Listener> = [
  ...floods,
  { name: "framed-burst", type: "stream", handler: "sink", workMs: 100 },
  { name: "framed-small", type: "stream", handler: "sink", limits: { maxFdsPerMessage: SMALL_LIMIT } },
  { name: "framed-hold", type: "stream", handler: "hold" },
  { name: "framed-zero", type: "stream", handler: "sink", limits: { maxFdsPerMessage: 0 } },
  { name: "raw-small", type: "stream", framing: "raw", handler: "close", limits: { maxFdsPerMessage: SMALL_LIMIT } },
  { name: "seqpacket-small", type: "seqpacket", handler: "sink", limits: { maxFdsPerMessage: SMALL_LIMIT } },
  { name: "dgram-small", type: "dgram", handler: "close", limits: { maxFdsPerMessage: SMALL_LIMIT } }
]

const listener = (name: string): Listener => listeners.find((l) => l.name === name)!

/** How a flooded endpoint's consumer is described in the report. */
const consumer = (name: string): string => {
  const l = listener(name)
  const kind = l.type === "dgram" ? "datagram endpoint" : l.type === "seqpacket" ? "SEQPACKET" : l.framing === "raw" ? "raw STREAM" : "framed STREAM"
  const closing = l.handler === "sink" ? "handleMessages" : "closing each fd"
  return `${kind}, ${closing}${l.workMs === undefined ? "" : `, ${l.workMs} ms of work per message`}`
}

/** What every step needs: the server, its endpoints' addresses, and something to send. */
interface Rig {
  readonly server: Helper
  readonly findings: Findings
  readonly addresses: Record<string, string>
  readonly sender: UnixDatagram.DatagramEndpoint
  readonly devNull: Fd
}

const payload = new Uint8Array(16).fill(1)
/** `n` copies of the rig's /dev/null: one `sendmsg` may carry the same descriptor many times. */
const fds = (rig: Rig, n: number): ReadonlyArray<Fd> => Array.from({ length: n }, () => rig.devNull)

const connectTo = (rig: Rig, name: string): Effect.Effect<Connection, unknown, UnixDriver | Scope.Scope> =>
  UnixSocket.connect({ address: rig.addresses[name]!, type: listener(name).type as SocketType, framing: listener(name).framing })

interface Flooded {
  readonly sent: number
  readonly error?: string
}

/** Sends with `send` as fast as the receiver takes it, for `ms`, or until a send fails. */
const floodFor = <E, R>(ms: number, send: Effect.Effect<void, E, R>): Effect.Effect<Flooded, never, R> =>
  Effect.gen(function*() {
    const deadline = performance.now() + ms
    let sent = 0
    while (performance.now() < deadline) {
      const exit = yield* Effect.exit(send)
      if (Exit.isFailure(exit)) return { sent, error: failureText(exit) }
      sent++
    }
    return { sent }
  })

/** Floods a connection endpoint; every message must arrive, every descriptor be closed. */
const floodConnection = (rig: Rig, name: string) =>
  Effect.gen(function*() {
    const flooded = yield* Effect.scoped(Effect.gen(function*() {
      const peer = yield* connectTo(rig, name)
      const flooded = yield* floodFor(FLOOD_MS, peer.send({ data: payload, fds: fds(rig, MAX_FDS_PER_FRAME) }))
      yield* Effect.ignore(peer.end)
      return flooded
    }))
    const stats = yield* statsWhen(rig.server, name, (s) => s.handled >= 1 && s.open === 0)
    // A raw STREAM read may join several sends: compare what they carried instead.
    const delivered = listener(name).framing === "raw"
      ? stats.bytes === flooded.sent * payload.length && stats.fds === flooded.sent * MAX_FDS_PER_FRAME
      : stats.messages === flooded.sent && stats.fds === flooded.sent * MAX_FDS_PER_FRAME
    const held = rig.findings.check(
      flooded.error === undefined && (stats.outcomes["end"] ?? 0) === 1 && delivered,
      `${consumer(name)}: ${count(flooded.sent)} messages × 253 descriptors all delivered and closed, clean end`,
      `${consumer(name)}: the connection ended with ${tallyText(stats.outcomes)} after ${count(stats.messages)} of ${count(flooded.sent)} ` +
        `messages (${stats.samples["FdLimit"] ?? stats.samples["ProtocolError"] ?? flooded.error ?? ""})`,
      false
    )
    return { sent: flooded.sent, held }
  })

/** Floods a datagram endpoint; every datagram must arrive, every descriptor be closed. */
const floodDatagrams = (rig: Rig, name: string) =>
  Effect.gen(function*() {
    const flooded = yield* floodFor(FLOOD_MS, rig.sender.sendTo(rig.addresses[name]!, { data: payload, fds: fds(rig, MAX_FDS_PER_FRAME) }))
    const stats = yield* statsWhen(rig.server, name, (s) => s.messages + (s.outcomes["FdLimit"] ?? 0) >= flooded.sent, 10_000)
    const held = rig.findings.check(
      flooded.error === undefined && stats.messages === flooded.sent && stats.fds === flooded.sent * MAX_FDS_PER_FRAME &&
        Object.keys(stats.outcomes).length === 0,
      `${consumer(name)}: ${count(flooded.sent)} datagrams × 253 descriptors all delivered and closed`,
      `${consumer(name)}: ${count(stats.messages)} of ${count(flooded.sent)} datagrams delivered; ${count(stats.outcomes["FdLimit"] ?? 0)} ` +
        `dropped with ${tallyText(stats.outcomes)} (${Object.values(stats.samples).join("; ")}${flooded.error ?? ""})`,
      false
    )
    return { sent: flooded.sent, held }
  })

/**
 * A compliant burst that a backlog turns into one read completing two frames: three frames
 * of 200 descriptors, a 50 KB frame with 253 (its descriptors arrive with its first part,
 * the rest of it in a later read) and one more with 253. The consumer closes everything, so
 * nothing may be cut off. A first frame without descriptors keeps the busy consumer (100 ms
 * per message) away while the burst queues up in the kernel.
 */
const burst = (rig: Rig) =>
  Effect.gen(function*() {
    const frames = [
      { data: payload, fds: fds(rig, 200) },
      { data: payload, fds: fds(rig, 200) },
      { data: payload, fds: fds(rig, 200) },
      { data: new Uint8Array(50_000), fds: fds(rig, MAX_FDS_PER_FRAME) },
      { data: payload, fds: fds(rig, MAX_FDS_PER_FRAME) }
    ]
    yield* Effect.scoped(Effect.gen(function*() {
      const peer = yield* connectTo(rig, "framed-burst")
      yield* peer.send("first")
      yield* Effect.sleep(50)
      for (const message of frames) yield* peer.send(message)
      yield* peer.end
    }))
    const total = frames.length + 1
    const stats = yield* statsWhen(rig.server, "framed-burst", (s) => s.handled >= 1 && s.open === 0)
    return rig.findings.check(
      stats.messages === total && (stats.outcomes["end"] ?? 0) === 1,
      `framed STREAM, a compliant burst read from a backlog (3 × 200, then 253 with a 50 KB frame, then 253 descriptors): all ${total} frames delivered`,
      `framed STREAM, handleMessages: a compliant sender's burst (a frame without descriptors, 3 frames of 200 descriptors, a 50 KB frame ` +
        `with 253, a frame with 253) queued while the consumer was busy: ${stats.messages} of ${total} frames delivered, then ` +
        `${tallyText(stats.outcomes)} (${stats.samples["FdLimit"] ?? ""}) although the consumer closes every descriptor: one read ` +
        "completed two frames (253 descriptors waiting in the FIFO plus 253 that came with the read), more than the 253 a read is allowed",
      false
    )
  })

/**
 * Crosses one limit with `act`, one connection at a time so that the server's own descriptor
 * count at the error is exact: the connection's socket (none for datagrams) and what the
 * consumer legitimately holds (`extraHeld`), nothing of the excess.
 */
const crossLimit = (
  rig: Rig,
  name: string,
  what: string,
  limitName: string,
  extraHeld: number,
  act: Effect.Effect<void, unknown, UnixDriver | Scope.Scope>
) =>
  Effect.gen(function*() {
    const idle: number = yield* ask(rig.server, "fds")
    yield* ask(rig.server, "reset", { name })
    yield* Effect.scoped(Effect.andThen(act, statsWhen(rig.server, name, (s) => s.fdsAtError.length > 0, 10_000)))
    const datagrams = listener(name).type === "dgram"
    const stats: Json = datagrams
      ? yield* ask(rig.server, "stats", { name })
      : yield* statsWhen(rig.server, name, (s) => s.handled >= 1 && s.open === 0)
    const expected = idle + (datagrams ? 0 : 1) + extraHeld
    const named = (stats.fdLimits[limitName] ?? 0) === 1 && (stats.outcomes["FdLimit"] ?? 0) === 1
    const held = rig.findings.check(
      named && stats.fdsAtError[0] === expected,
      `${what}: FdLimit naming ${limitName}, excess closed before the handler saw the error (${stats.fdsAtError[0] - idle} descriptors above idle${
        extraHeld > 0 ? `, the ${extraHeld} it held` : ""
      })`,
      `${what}: outcomes ${tallyText(stats.outcomes)}, limits ${tallyText(stats.fdLimits)}; descriptors at the error ${stats.fdsAtError[0]} ` +
        `(expected ${expected}) — ${stats.samples["FdLimit"] ?? ""}`,
      false
    )
    return { held, stats }
  })

/** A datagram over the limit is dropped alone: the endpoint goes on with the next one. */
const datagramAfterDrop = (rig: Rig) =>
  Effect.gen(function*() {
    const crossed = yield* crossLimit(
      rig,
      "dgram-small",
      `datagram, ${SMALL_LIMIT + 1} descriptors over maxFdsPerMessage ${SMALL_LIMIT}`,
      "limits.maxFdsPerMessage",
      0,
      rig.sender.sendTo(rig.addresses["dgram-small"]!, { data: payload, fds: fds(rig, SMALL_LIMIT + 1) })
    )
    yield* rig.sender.sendTo(rig.addresses["dgram-small"]!, { data: payload, fds: fds(rig, 1) })
    const next = yield* statsWhen(rig.server, "dgram-small", (s) => s.messages >= crossed.stats.messages + 1, 5000)
    const went = rig.findings.check(
      next.messages === crossed.stats.messages + 1,
      "the datagram endpoint went on with the next datagram",
      "the datagram endpoint did not deliver the datagram after the one it dropped",
      false
    )
    return [crossed.held, went]
  })

/**
 * An endpoint that never wants descriptors (`maxFdsPerMessage: 0`) closes them as they
 * arrive, but still counts them to find their frames: `maxFdsInFlight` must bound that count
 * too, or a peer that announces a large frame and trickles its payload with 253 descriptors
 * per byte makes the server remember them without end.
 */
const trickleWithoutFrame = (rig: Rig) =>
  Effect.gen(function*() {
    const trickled = yield* Effect.scoped(Effect.gen(function*() {
      const heapBefore = (yield* collected(rig.server)).heap ?? 0
      const peer = yield* UnixSocket.connect({ address: rig.addresses["framed-zero"]!, framing: "raw" })
      yield* peer.send(header(defaultLimits.maxMessageBytes - 1, 0))
      let parts = 0
      while (parts < TRICKLE_PARTS) {
        const sent = yield* Effect.exit(peer.send({ data: new Uint8Array(1), fds: fds(rig, MAX_FDS_PER_FRAME) }))
        if (Exit.isFailure(sent)) break
        parts++
      }
      yield* Effect.sleep(200)
      const heapHeld = (yield* collected(rig.server)).heap ?? 0
      const stats = yield* ask(rig.server, "stats", { name: "framed-zero" })
      return { parts, heapGrowth: heapHeld - heapBefore, stats }
    }))
    const final = yield* statsWhen(rig.server, "framed-zero", (s) => s.handled >= 1 && s.open === 0)
    const descriptors = trickled.parts * MAX_FDS_PER_FRAME
    // The peer learns of the hang-up only when the kernel refuses its next part: it may get a
    // few more in first.
    return rig.findings.check(
      (final.fdLimits["limits.maxFdsInFlight"] ?? 0) === 1 && trickled.parts < TRICKLE_PARTS,
      `maxFdsPerMessage: 0, descriptors piling up before their frame: FdLimit naming limits.maxFdsInFlight (the peer was cut off after ${trickled.parts} parts)`,
      `maxFdsPerMessage: 0 does not bound descriptors waiting for their frame: a peer announced a ${mb(defaultLimits.maxMessageBytes)} MB ` +
        `frame and sent ${count(trickled.parts)} one-byte parts with 253 descriptors each (${count(descriptors)} descriptors, ` +
        `${(descriptors / defaultLimits.maxFdsInFlight).toFixed(0)}× maxFdsInFlight); the server closed them but kept a placeholder for ` +
        `each (JS heap ${deltaMb(trickled.heapGrowth)} MB after a full GC, growing with every part) and never ended the connection (it ended ` +
        `only when the peer left: ${tallyText(final.outcomes)}). With the default maxFdsPerMessage the same peer gets FdLimit ` +
        "(limits.maxFdsInFlight) at its 3rd part.",
      false
    )
  })

/** Every limit crossed on purpose; returns whether each held. */
const crossEveryLimit = (rig: Rig) =>
  Effect.gen(function*() {
    const over = (name: string) =>
      Effect.gen(function*() {
        const peer = yield* connectTo(rig, name)
        yield* peer.send({ data: payload, fds: fds(rig, SMALL_LIMIT) })
        yield* peer.send({ data: payload, fds: fds(rig, SMALL_LIMIT + 1) })
      })
    const results = [
      yield* crossLimit(rig, "framed-small", `framed STREAM, a frame of ${SMALL_LIMIT + 1} over maxFdsPerMessage ${SMALL_LIMIT}`, "limits.maxFdsPerMessage", 0, over("framed-small")),
      yield* crossLimit(rig, "raw-small", `raw STREAM, ${SMALL_LIMIT + 1} over maxFdsPerMessage ${SMALL_LIMIT}`, "limits.maxFdsPerMessage", 0, over("raw-small")),
      yield* crossLimit(rig, "seqpacket-small", `SEQPACKET, ${SMALL_LIMIT + 1} over maxFdsPerMessage ${SMALL_LIMIT}`, "limits.maxFdsPerMessage", 0, over("seqpacket-small")),
      // The default maxFdsInFlight (512): a header that never completes while descriptors pile up.
      yield* crossLimit(
        rig,
        "framed",
        "framed STREAM, 3 × 253 descriptors sent with single header bytes (no frame completes)",
        "limits.maxFdsInFlight",
        0,
        Effect.gen(function*() {
          const peer = yield* UnixSocket.connect({ address: rig.addresses["framed"]!, framing: "raw" })
          const head = header(1, 0)
          for (let i = 0; i < 3; i++) yield* Effect.ignore(peer.send({ data: head.subarray(i, i + 1), fds: fds(rig, MAX_FDS_PER_FRAME) }))
        })
      ),
      // A consumer that keeps what it receives: 10 frames of 100 are its to hold, the 11th is not.
      yield* crossLimit(
        rig,
        "framed-hold",
        "framed STREAM, a consumer keeping 100 descriptors per frame",
        "limits.maxUnclaimedFds",
        1000,
        Effect.gen(function*() {
          const peer = yield* connectTo(rig, "framed-hold")
          for (let i = 0; i < 11; i++) {
            yield* Effect.ignore(peer.send({ data: payload, fds: fds(rig, 100) }))
            yield* Effect.sleep(20)
          }
        })
      )
    ].map((r) => r.held)
    return [...results, ...yield* datagramAfterDrop(rig), yield* trickleWithoutFrame(rig)]
  })

export const fdFlood: Scenario = {
  name: "fd-flood",
  title: "Descriptor floods and limits",
  about:
    "A peer sends 253 descriptors (the most one `sendmsg` carries) with every message, as fast as they are taken, " +
    `for ${FLOOD_MS / 1000} s each into a framed STREAM server, a raw STREAM server, a SEQPACKET server and a datagram endpoint ` +
    "in another process, whose consumers close what they receive (`handleMessages` or `fd.close()`) — once doing " +
    `nothing else, once working ${WORK_MS} ms per message so that a backlog builds up — plus a compliant burst whose ` +
    "descriptors straddle reads. Then each limit is crossed on purpose: `maxFdsPerMessage` on each socket type, " +
    "`maxFdsInFlight` (with the default `maxFdsPerMessage` and with 0), `maxUnclaimedFds` with a consumer that keeps " +
    "everything. It proves a careful consumer is never cut off, that a limit ends only the connection (or drops only " +
    "the datagram) that crossed it, with `FdLimit` naming the limit and the excess already closed when the handler " +
    "sees the error, and that the server's descriptors and memory (compared after a full GC) come back.",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      findings.tried = "253 descriptors per message at full speed into 4 kinds of endpoint; every descriptor limit crossed"
      const server = yield* startHelper("server.ts")
      const addresses: Record<string, string> = {}
      for (const l of listeners) {
        const reply = yield* ask(server, l.type === "dgram" ? "bind" : "listen", {
          ...l,
          address: abstractName(`flood-${l.name}`),
          fdsAtError: true,
          timeoutMs: 60_000
        })
        addresses[l.name] = reply.address
      }
      const devNull = yield* Fd.open("/dev/null")
      yield* Effect.addFinalizer(() => Effect.sync(() => devNull.close()))
      const rig: Rig = { server, findings, addresses, sender: yield* UnixDatagram.bind(), devNull }

      const baseline = yield* steadyFds(server.pid)
      const before = yield* collected(server)
      const { peakRss, result } = yield* watchPeaks([server.pid], Effect.gen(function*() {
        const flooded = [
          ...yield* Effect.forEach(floods.filter((l) => l.type !== "dgram"), (l) => floodConnection(rig, l.name)),
          ...yield* Effect.forEach(floods.filter((l) => l.type === "dgram"), (l) => floodDatagrams(rig, l.name))
        ]
        const burstHeld = yield* burst(rig)
        const limits = yield* crossEveryLimit(rig)
        return { flooded, burstHeld, limits }
      }))
      const afterFds = yield* settledFds(server.pid, baseline)
      const after = yield* collected(server)

      const sent = result.flooded.reduce((n, f) => n + f.sent, 0)
      findings.amount = `${count(sent)} messages of 253 descriptors (${count(sent * MAX_FDS_PER_FRAME)} descriptors) in ${floods.length} floods ` +
        `of ${FLOOD_MS / 1000} s; ${result.limits.length - 1} limit crossings`
      if (result.flooded.every((f) => f.held) && result.burstHeld) {
        findings.note(
          `all ${floods.length} floods flowed (framed STREAM, raw STREAM, SEQPACKET, datagrams; each with a consumer that only closes and one ` +
            `that also works ${WORK_MS} ms per message, so a backlog builds up), and a burst of frames whose descriptors straddle reads: ` +
            "every message delivered, every descriptor closed, no FdLimit"
        )
      }
      if (result.limits.every(Boolean)) {
        findings.note(
          "each limit crossed ended only that connection (or dropped only that datagram) with FdLimit naming it — maxFdsPerMessage on " +
            "framed, raw, SEQPACKET and datagram endpoints, maxFdsInFlight (also with maxFdsPerMessage: 0), maxUnclaimedFds — the " +
            "excess already closed when the handler saw the error; the datagram endpoint went on"
        )
      }
      findings.check(afterFds === baseline, `server descriptors ${baseline} before, ${afterFds} after`)
      findings.check(
        heapKept(before, after) && peakRss[0]! - before.rss < PEAK_LIMIT,
        `memory bounded and given back: server ${memoryText(before, peakRss[0]!, after)}`,
        `server ${memoryText(before, peakRss[0]!, after)}: over ${mb(PEAK_LIMIT)} MB more at peak, or the JS heap kept ` +
          `${mb((after.heap ?? 0) - (before.heap ?? 0))} MB`
      )
    })
}
