/**
 * Scenario 1, fuzz: byte sequences, valid and mutated, written by a raw peer into a
 * length-prefixed server in another process, each on its own connection.
 *
 * fast-check generates each sequence as frames (payloads and descriptor kinds), split points
 * and mutations; `plan` turns it into the parts the peer writes, one `sendmsg` each, with
 * descriptors attached where a compliant sender attaches them (to the part carrying the
 * frame's first header byte) unless a mutation moves them. The server hashes what it
 * receives and, once the connection ended, answers with how it ended and the hash: valid
 * sequences must come through exactly, single mutations must fail with the error they call
 * for (after delivering the frames before them intact), everything must end with a clean end
 * of stream or a typed error, within a timeout. Meanwhile a health check connects every 100 ms
 * and must get its echo.
 *
 * A broken sequence is replayed through fast-check to shrink it (same seed, same index), so
 * the report shows the smallest sequence that still breaks.
 */
import { Effect, Exit, Stream } from "effect"
import fc from "fast-check"
import { defaultLimits } from "../src/Connection.ts"
import type { Connection } from "../src/Connection.ts"
import { Fd, UnixSocket } from "../src/index.ts"
import type { UnixDriver } from "../src/UnixDriver.ts"
import {
  abstractName,
  ask,
  collected,
  count,
  failureText,
  fdCount,
  type Findings,
  type Json,
  heapKept,
  mb,
  memoryText,
  rate,
  type Scenario,
  settledFds,
  startHelper,
  steadyFds,
  tallyText,
  watchPeaks
} from "./support.ts"
import { concat, Digest, FrameReader, frame, HEADER_BYTES, MAX_FDS_PER_FRAME, text } from "./wire.ts"

const RUNS = Number(process.env["STRESS_FUZZ_RUNS"] ?? 100_000)
const CHUNK = 1000
const CONCURRENCY = Number(process.env["C"] ?? 16)
const MAX_BYTES = defaultLimits.maxMessageBytes
const MAX_IN_FLIGHT = defaultLimits.maxFdsInFlight
const TYPED = ["end", "ProtocolError", "MessageTooLarge", "FdLimit"] as const

// ---------------------------------------------------------------------------------------
// What fast-check generates

type FdKind = "null" | "pipe"

interface FrameSpec {
  readonly payload: Uint8Array
  readonly fds: ReadonlyArray<FdKind>
}

type Mutation =
  | { readonly kind: "truncate"; readonly frame: number; readonly offset: number }
  | { readonly kind: "reserved"; readonly frame: number; readonly value: number }
  | { readonly kind: "hugeLength"; readonly frame: number; readonly length: number }
  | { readonly kind: "fdCountOver"; readonly frame: number; readonly count: number }
  | { readonly kind: "moreFds"; readonly frame: number; readonly extra: number }
  | { readonly kind: "fewerFds"; readonly frame: number; readonly fewer: number }
  | { readonly kind: "strayFds"; readonly at: number; readonly count: number }
  | { readonly kind: "moveFds"; readonly frame: number; readonly shift: number }
  | { readonly kind: "flipByte"; readonly at: number; readonly mask: number }
  | { readonly kind: "garbageTail"; readonly bytes: Uint8Array }

interface RandomBytes {
  readonly bytes: Uint8Array
  readonly fds: ReadonlyArray<{ readonly at: number; readonly count: number }>
}

interface Sequence {
  readonly frames: ReadonlyArray<FrameSpec>
  /** Split points, taken modulo the stream's length. */
  readonly cuts: ReadonlyArray<number>
  readonly mutations: ReadonlyArray<Mutation>
  /** Instead of frames: random bytes with descriptors attached at random places. */
  readonly random: RandomBytes | null
}

/** A large payload without generating each byte: a pattern from a seed. */
const patterned = (length: number, seed: number): Uint8Array => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

const fdKind = fc.constantFrom<FdKind>("null", "pipe")

const fdsArb = fc.oneof(
  { weight: 55, arbitrary: fc.constant<ReadonlyArray<FdKind>>([]) },
  { weight: 40, arbitrary: fc.array(fdKind, { minLength: 1, maxLength: 4 }) },
  {
    weight: 5,
    arbitrary: fc.tuple(fc.integer({ min: 5, max: MAX_FDS_PER_FRAME }), fdKind).map(([n, kind]) =>
      Array.from({ length: n }, () => kind)
    )
  }
)

const payloadArb = fc.oneof(
  { weight: 70, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 29, arbitrary: fc.uint8Array({ minLength: 65, maxLength: 4096 }) },
  // Past the 256 KiB a single read takes, so frames also span reads.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 200_000, max: 300_000 }), fc.nat(255)).map(([n, seed]) => patterned(n, seed)) }
)

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), frame: fc.nat(), offset: fc.nat() }),
  fc.record({ kind: fc.constant("reserved" as const), frame: fc.nat(), value: fc.integer({ min: 1, max: 0xffff }) }),
  fc.record({
    kind: fc.constant("hugeLength" as const),
    frame: fc.nat(),
    length: fc.bigInt({ min: BigInt(MAX_BYTES + 1), max: 0xffffffffn }).map(Number)
  }),
  fc.record({ kind: fc.constant("fdCountOver" as const), frame: fc.nat(), count: fc.integer({ min: MAX_FDS_PER_FRAME + 1, max: 0xffff }) }),
  fc.record({ kind: fc.constant("moreFds" as const), frame: fc.nat(), extra: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("fewerFds" as const), frame: fc.nat(), fewer: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    kind: fc.constant("strayFds" as const),
    at: fc.nat(),
    count: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 200, max: MAX_FDS_PER_FRAME }))
  }),
  fc.record({ kind: fc.constant("moveFds" as const), frame: fc.nat(), shift: fc.integer({ min: -3, max: 3 }).filter((n) => n !== 0) }),
  fc.record({ kind: fc.constant("flipByte" as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("garbageTail" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
)

const randomArb: fc.Arbitrary<RandomBytes> = fc.record({
  bytes: fc.uint8Array({ minLength: 1, maxLength: 512 }),
  fds: fc.array(fc.record({ at: fc.nat(), count: fc.integer({ min: 1, max: MAX_FDS_PER_FRAME }) }), { maxLength: 3 })
})

export const sequenceArb: fc.Arbitrary<Sequence> = fc.record({
  frames: fc.array(fc.record({ payload: payloadArb, fds: fdsArb }), { maxLength: 8 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  mutations: fc.oneof(
    { weight: 40, arbitrary: fc.constant<ReadonlyArray<Mutation>>([]) },
    { weight: 45, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 1 }) },
    { weight: 15, arbitrary: fc.array(mutationArb, { minLength: 2, maxLength: 3 }) }
  ),
  random: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: randomArb })
})

// ---------------------------------------------------------------------------------------
// From a sequence to the parts a peer writes, and what the server must answer

interface Part {
  readonly bytes: Uint8Array
  readonly fds: ReadonlyArray<FdKind>
}

/** Descriptors attached at a byte offset: to the part that carries that byte. */
interface Anchor {
  readonly at: number
  fds: Array<FdKind>
  /** A frame's own descriptors at its first header byte: never trimmed, a part is cut before it instead. */
  readonly frame: boolean
}

type Expectation =
  /** A valid sequence: a clean end, and exactly these frames. */
  | { readonly kind: "frames"; readonly frames: number; readonly hash: number }
  /** One of `outcomes`, after exactly the frames before the broken one. */
  | { readonly kind: "prefix"; readonly outcomes: ReadonlyArray<string>; readonly frames: number; readonly hash: number }
  /** One of `outcomes`. */
  | { readonly kind: "one-of"; readonly outcomes: ReadonlyArray<string> }

interface Plan {
  readonly label: string
  readonly parts: ReadonlyArray<Part>
  readonly expect: Expectation
}

const letter = (kind: FdKind): string => kind === "null" ? "c" : "f"

const digestOf = (frames: ReadonlyArray<FrameSpec>): Digest => {
  const digest = new Digest()
  for (const f of frames) digest.add(f.payload, f.fds.map(letter).join(""))
  return digest
}

/**
 * Cuts `stream` into parts at `cuts` and attaches each anchor's descriptors to the part
 * holding its byte. A part carries at most 253 descriptors (SCM_MAX_FD): a frame whose
 * descriptors do not fit gets a part of its own (a compliant sender does the same), and
 * stray or moved descriptors that do not fit are dropped (from the anchor too, so the
 * expectation sees what was really sent).
 */
const partsOf = (stream: Uint8Array, initialCuts: ReadonlyArray<number>, anchors: ReadonlyArray<Anchor>): Array<Part> => {
  const cuts = new Set(initialCuts.filter((c) => c > 0 && c < stream.length))
  const ordered = [...anchors].filter((a) => a.at < stream.length).sort((a, b) => a.at - b.at || Number(b.frame) - Number(a.frame))
  for (;;) {
    const bounds = [0, ...[...cuts].sort((a, b) => a - b), stream.length]
    const fds: Array<Array<FdKind>> = bounds.slice(1).map(() => [])
    const attached: Array<number> = []
    let cutAdded = false
    for (const anchor of ordered) {
      let p = 0
      while (p + 2 < bounds.length && bounds[p + 1]! <= anchor.at) p++
      const room = MAX_FDS_PER_FRAME - fds[p]!.length
      if (anchor.fds.length > room && anchor.frame && anchor.at > bounds[p]!) {
        cuts.add(anchor.at)
        cutAdded = true
        break
      }
      attached.push(Math.min(room, anchor.fds.length))
      fds[p]!.push(...anchor.fds.slice(0, room))
    }
    if (!cutAdded) {
      ordered.forEach((anchor, i) => void (anchor.fds = anchor.fds.slice(0, attached[i])))
      return bounds.slice(1)
        .map((end, i) => ({ bytes: stream.slice(bounds[i], end), fds: fds[i]! }))
        .filter((part) => part.bytes.length > 0)
    }
  }
}

const planRandom = (sequence: Sequence, random: RandomBytes): Plan => {
  const anchors = random.fds.map((f) => ({ at: f.at % random.bytes.length, fds: Array.from({ length: f.count }, (): FdKind => "null"), frame: false }))
  return {
    label: "random bytes",
    parts: partsOf(random.bytes, sequence.cuts.map((c) => c % random.bytes.length), anchors),
    expect: { kind: "one-of", outcomes: TYPED }
  }
}

/** Builds the parts to write and the answer the server owes. */
export const plan = (sequence: Sequence): Plan => {
  if (sequence.random !== null) return planRandom(sequence, sequence.random)
  const frames = sequence.frames
  const starts: Array<number> = []
  let offset = 0
  for (const f of frames) {
    starts.push(offset)
    offset += HEADER_BYTES + f.payload.length
  }
  let stream = concat(frames.map((f) => frame(f.payload, f.fds.length)))
  const view = () => new DataView(stream.buffer, stream.byteOffset, stream.length)
  const anchors: Array<Anchor> = frames.map((f, i) => ({ at: starts[i]!, fds: [...f.fds], frame: true }))
  const initialCuts = () => sequence.cuts.map((c) => c % Math.max(stream.length, 1))
  const applied: Array<{ readonly kind: Mutation["kind"]; readonly frame?: number }> = []
  const pick = (n: number) => frames.length === 0 ? undefined : n % frames.length

  // Header edits first, then descriptors, then cutting the stream short, then blind damage.
  const order: ReadonlyArray<Mutation["kind"]> = [
    "reserved", "hugeLength", "fdCountOver", "moreFds", "fewerFds", "moveFds", "strayFds", "truncate", "flipByte", "garbageTail"
  ]
  const mutations = [...sequence.mutations].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))
  for (const m of mutations) {
    switch (m.kind) {
      case "reserved": {
        const f = pick(m.frame)
        if (f === undefined) break
        view().setUint16(starts[f]! + 6, m.value)
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "hugeLength": {
        const f = pick(m.frame)
        if (f === undefined) break
        view().setUint32(starts[f]!, m.length)
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "fdCountOver": {
        const f = pick(m.frame)
        if (f === undefined) break
        view().setUint16(starts[f]! + 4, m.count)
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "moreFds": {
        const f = pick(m.frame)
        if (f === undefined) break
        view().setUint16(starts[f]! + 4, frames[f]!.fds.length + m.extra)
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "fewerFds": {
        const f = pick(m.frame)
        if (f === undefined || frames[f]!.fds.length === 0) break
        view().setUint16(starts[f]! + 4, Math.max(0, frames[f]!.fds.length - m.fewer))
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "moveFds": {
        const f = pick(m.frame)
        if (f === undefined || frames[f]!.fds.length === 0) break
        // To the start of another part, counted in the parts the split points make.
        const bounds = [0, ...[...new Set(initialCuts().filter((c) => c > 0 && c < stream.length))].sort((a, b) => a - b)]
        let p = 0
        while (p + 1 < bounds.length && bounds[p + 1]! <= starts[f]!) p++
        const target = Math.min(Math.max(p + m.shift, 0), bounds.length - 1)
        if (target === p) break
        const own = anchors[f]!
        anchors.push({ at: bounds[target]!, fds: own.fds, frame: false })
        own.fds = []
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "strayFds": {
        if (stream.length === 0) break
        anchors.push({ at: m.at % stream.length, fds: Array.from({ length: m.count }, (): FdKind => "null"), frame: false })
        applied.push({ kind: m.kind })
        break
      }
      case "truncate": {
        const f = pick(m.frame)
        if (f === undefined) break
        const frameLength = HEADER_BYTES + frames[f]!.payload.length
        stream = stream.slice(0, starts[f]! + 1 + (m.offset % (frameLength - 1)))
        applied.push({ kind: m.kind, frame: f })
        break
      }
      case "flipByte": {
        if (stream.length === 0) break
        const at = m.at % stream.length
        stream[at] = stream[at]! ^ m.mask
        applied.push({ kind: m.kind })
        break
      }
      case "garbageTail": {
        stream = concat([stream, m.bytes])
        applied.push({ kind: m.kind })
        break
      }
    }
  }

  const parts = partsOf(stream, initialCuts(), anchors)
  const strays = anchors.filter((a) => !a.frame).reduce((n, a) => n + a.fds.length, 0)
  if (strays === 0) {
    // Stray descriptors that found no room in their part were never sent.
    for (let i = applied.length - 1; i >= 0; i--) if (applied[i]!.kind === "strayFds") applied.splice(i, 1)
  }
  if (applied.length === 0) {
    const digest = digestOf(frames)
    return { label: "valid", parts, expect: { kind: "frames", frames: digest.frames, hash: digest.value } }
  }
  if (applied.length > 1) return { label: "several mutations", parts, expect: { kind: "one-of", outcomes: TYPED } }
  const only = applied[0]!
  const prefix = (outcome: string): Expectation => {
    const digest = digestOf(frames.slice(0, only.frame))
    return { kind: "prefix", outcomes: [outcome], frames: digest.frames, hash: digest.value }
  }
  const expect: Expectation = (() => {
    switch (only.kind) {
      case "truncate":
      case "reserved":
      case "fdCountOver":
        return prefix("ProtocolError")
      case "hugeLength":
        return prefix("MessageTooLarge")
      case "moreFds":
      case "fewerFds":
        return { kind: "one-of", outcomes: ["ProtocolError"] }
      case "strayFds":
        // Stray descriptors never leave the FIFO: past maxFdsInFlight they end the connection at
        // once, otherwise end of stream finds them there.
        return { kind: "one-of", outcomes: strays > MAX_IN_FLIGHT ? ["FdLimit"] : ["ProtocolError", "FdLimit"] }
      case "moveFds":
        // Moved later, the header may be parsed before they arrive, or with them in the same read.
        return { kind: "one-of", outcomes: ["end", "ProtocolError"] }
      case "flipByte":
      case "garbageTail":
        return { kind: "one-of", outcomes: TYPED }
    }
  })()
  return { label: only.kind, parts, expect }
}

const hex = (bytes: Uint8Array, most = 24): string =>
  [...bytes.subarray(0, most)].map((b) => b.toString(16).padStart(2, "0")).join("") + (bytes.length > most ? "…" : "")

/** A sequence and its parts in a line, for reports. */
export const describe = (sequence: Sequence): string => {
  const p = plan(sequence)
  const parts = p.parts.map((part) => `${part.bytes.length}B${part.fds.length > 0 ? `+${part.fds.length}fd` : ""} ${hex(part.bytes, 12)}`)
  const frames = sequence.random === null
    ? `frames [${sequence.frames.map((f) => `${f.payload.length}B/${f.fds.length}fd`).join(", ")}]`
    : `random bytes`
  const mutations = sequence.random === null && sequence.mutations.length > 0
    ? `, mutations ${JSON.stringify(sequence.mutations, (_, v) => v instanceof Uint8Array ? hex(v) : v)}`
    : ""
  return `${p.label}: ${frames}${mutations}; sendmsg parts [${parts.join(" | ")}]`
}

// ---------------------------------------------------------------------------------------
// Playing a sequence against the server

interface Played {
  readonly reply: Json | undefined
  readonly readError: string | undefined
  readonly sendError: string | undefined
}

type Pool = Record<FdKind, Fd>

/** Reads the server's framed answer with the hand-written decoder. */
const readReply = (connection: Connection): Effect.Effect<{ reply: Json | undefined; readError: string | undefined }> =>
  Effect.gen(function*() {
    const reader = new FrameReader()
    let reply: Json | undefined
    let readError: string | undefined
    yield* connection.messages.pipe(
      Stream.takeUntil((message) => {
        const [first] = reader.push(message.data)
        if (first !== undefined) reply = JSON.parse(text(first))
        return reply !== undefined
      }),
      Stream.runDrain,
      Effect.catch((error) => Effect.sync(() => void (readError = error._tag)))
    )
    return { reply, readError: reply === undefined ? readError ?? "end of stream" : undefined }
  })

/** Writes the parts, one `send` (one sendmsg) each, half-closes, and reads the server's answer. */
const play = (address: string, pool: Pool, p: Plan): Effect.Effect<Played, unknown, UnixDriver> =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* UnixSocket.connect({ address, framing: "raw" })
    let sendError: string | undefined
    for (const part of p.parts) {
      const sent = yield* Effect.exit(
        connection.send(part.fds.length === 0 ? part.bytes : { data: part.bytes, fds: part.fds.map((kind) => pool[kind]) })
      )
      if (Exit.isFailure(sent)) {
        // The server may have given up on a broken sequence already: then it reset us.
        sendError = failureText(sent).split(":")[0]
        break
      }
    }
    yield* Effect.ignore(connection.end)
    const { reply, readError } = yield* readReply(connection)
    return { reply, readError, sendError }
  }))

/** What broke, or undefined when the server's answer is the one the plan calls for. */
const judge = (p: Plan, played: Played): string | undefined => {
  const reply = played.reply
  if (reply === undefined) return `no answer from the server (${played.readError})`
  const outcome = `${reply.outcome}${reply.limitName === undefined ? "" : ` (${reply.limitName})`}`
  const expect = p.expect
  switch (expect.kind) {
    case "frames":
      if (played.sendError !== undefined) return `a valid sequence's send failed with ${played.sendError}`
      if (reply.outcome !== "end") return `a valid sequence ended with ${outcome}`
      if (reply.frames !== expect.frames || reply.hash !== expect.hash) {
        return `a valid sequence's frames differ: received ${reply.frames} frames (hash ${reply.hash}), sent ${expect.frames} (hash ${expect.hash})`
      }
      return undefined
    case "prefix":
      if (!expect.outcomes.includes(reply.outcome)) return `ended with ${outcome}, expected ${expect.outcomes.join(" or ")}`
      if (reply.frames !== expect.frames || reply.hash !== expect.hash) {
        return `the ${expect.frames} frames before the broken one were not delivered intact (received ${reply.frames})`
      }
      return undefined
    case "one-of":
      return expect.outcomes.includes(reply.outcome) ? undefined : `ended with ${outcome}, expected ${expect.outcomes.join(" or ")}`
  }
}

/** Plays one sequence and judges it; a hang is a verdict too. */
const check = (address: string, pool: Pool, sequence: Sequence): Effect.Effect<{ readonly plan: Plan; readonly broken?: string }, never, UnixDriver> =>
  Effect.suspend(() => {
    const p = plan(sequence)
    return play(address, pool, p).pipe(
      Effect.timeout(15_000),
      Effect.exit,
      Effect.map((exit) => {
        if (Exit.isSuccess(exit)) {
          const broken = judge(p, exit.value)
          return broken === undefined ? { plan: p } : { plan: p, broken }
        }
        return { plan: p, broken: `the peer's side failed or hung: ${failureText(exit)}` }
      })
    )
  })

// ---------------------------------------------------------------------------------------
// The scenario

const shrink = (address: string, pool: Pool, seed: number, index: number) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<UnixDriver>()
    const property = fc.asyncProperty(sequenceArb, async (sequence) => {
      const verdict = await Effect.runPromiseWith(context)(check(address, pool, sequence))
      return verdict.broken === undefined
    })
    const details = yield* Effect.promise(() =>
      fc.check(property, { seed, path: String(index), endOnFailure: false, interruptAfterTimeLimit: 60_000 })
    )
    const counterexample = details.counterexample?.[0]
    return counterexample === undefined
      ? "the failure did not reproduce on replay"
      : `${describe(counterexample)} (shrunk in ${details.numShrinks} steps)`
  })

export const fuzz: Scenario = {
  name: "fuzz",
  title: "Fuzzed framing",
  about:
    "A raw peer writes byte sequences generated by fast-check into a length-prefixed server in another process, one " +
    "connection each: valid frames split across several `sendmsg` calls at arbitrary points, with descriptors (dups " +
    "of /dev/null, pipe ends) attached as the wire format says, and the same mutated — headers cut short, " +
    "descriptor counts over and under what is attached or over 253, descriptors with no frame or moved to " +
    "another part, non-zero reserved bytes, lengths over `maxMessageBytes`, flipped bytes, garbage tails, pure " +
    "random bytes. The server hashes each frame it receives (bytes and descriptor kinds) and answers with the " +
    "hash and how the connection ended. It proves the decoder never hangs, never dies with an untyped error, " +
    "delivers valid sequences exactly, fails a broken one with the typed error it calls for after delivering " +
    "the frames before it intact, closes every descriptor, and keeps accepting (a health check connects every " +
    "100 ms and must get its echo).",
  run: (findings: Findings) =>
    Effect.gen(function*() {
      const seed = Number(process.env["STRESS_SEED"] ?? Math.floor(Math.random() * 0x7fffffff))
      findings.tried = "valid and mutated byte sequences from a raw peer, each on its own connection, with a health check every 100 ms"
      findings.log(`${count(RUNS)} sequences, seed ${seed} (replay: STRESS_SEED=${seed} npm run stress -- fuzz)`)
      const server = yield* startHelper("server.ts")
      const { address } = yield* ask(server, "listen", { name: "fuzz", address: abstractName("fuzz"), handler: "fuzz", timeoutMs: 10_000 })
      const [devNull, [pipeRead, pipeWrite]] = [yield* Fd.open("/dev/null"), yield* Fd.pipe()]
      yield* Effect.addFinalizer(() => Effect.sync(() => [devNull, pipeRead, pipeWrite].forEach((fd) => fd.close())))
      const pool: Pool = { null: devNull, pipe: pipeRead }

      // Health checks come from a process of their own, so that their latency is the server's,
      // not that of this busy process.
      const checker = yield* startHelper("peer.ts")
      // Warm up (the first connections load code and open what Node opens lazily), then measure.
      yield* Effect.forEach(fc.sample(sequenceArb, { seed: seed ^ 0x5a5a, numRuns: 50 }), (s) => check(address, pool, s), { concurrency: CONCURRENCY })
      yield* ask(server, "reset", { name: "fuzz" })
      const baseline = yield* steadyFds(server.pid)
      const before = yield* collected(server)

      yield* ask(checker, "health-start", { address })
      const labels: Record<string, number> = {}
      const brokenByKind: Record<string, number> = {}
      const brokenExamples: Array<string> = []
      let firstBroken: { readonly chunk: number; readonly index: number } | undefined
      let done = 0
      const start = performance.now()
      const { peakRss } = yield* watchPeaks([server.pid], Effect.gen(function*() {
        for (let chunk = 0; chunk * CHUNK < RUNS; chunk++) {
          const samples = fc.sample(sequenceArb, { seed: seed + chunk, numRuns: Math.min(CHUNK, RUNS - chunk * CHUNK) })
          const verdicts = yield* Effect.forEach(samples, (s) => check(address, pool, s), { concurrency: CONCURRENCY })
          verdicts.forEach((verdict, index) => {
            labels[verdict.plan.label] = (labels[verdict.plan.label] ?? 0) + 1
            if (verdict.broken === undefined) return
            const kind = verdict.broken.replace(/\d+/g, "N")
            brokenByKind[kind] = (brokenByKind[kind] ?? 0) + 1
            if (brokenExamples.length < 5) brokenExamples.push(`${verdict.broken} — ${describe(samples[index]!)}`)
            firstBroken ??= { chunk, index }
          })
          done += samples.length
          if (done % 10_000 === 0 || done === RUNS) {
            findings.log(`${count(done)} sequences, ${rate(done, performance.now() - start)}/s, server ${fdCount(server.pid)} fds`)
          }
        }
      }))
      const elapsed = performance.now() - start
      const health = yield* ask(checker, "health-stop")
      const stats = yield* ask(server, "stats", { name: "fuzz" })
      const afterFds = yield* settledFds(server.pid, baseline)
      const after = yield* collected(server)
      const leakedToGc = (yield* ask(server, "stats", { name: "fuzz" })).closedByGarbageCollector

      findings.amount = `${count(done)} sequences (${count(labels["valid"] ?? 0)} valid, ${count(done - (labels["valid"] ?? 0))} broken on purpose) in ${(elapsed / 1000).toFixed(0)} s, ${CONCURRENCY} at a time; ${health.ok + health.failed} health checks`
      findings.note(`sequences by kind: ${tallyText(labels)}`)
      findings.note(`server outcomes: ${tallyText(stats.outcomes)}${Object.keys(stats.fdLimits).length > 0 ? `; FdLimit by limit: ${tallyText(stats.fdLimits)}` : ""}`)
      const untyped = Object.keys(stats.outcomes).filter((o) => !(TYPED as ReadonlyArray<string>).includes(o) && o !== "Closed")
      findings.check(
        untyped.length === 0 && stats.violationCount === 0,
        "every connection ended with end of stream or a typed error, none hung (10 s server timeout, 15 s peer timeout)",
        `connections ended otherwise: ${tallyText(Object.fromEntries(untyped.map((o) => [o, stats.outcomes[o]])))}; ${stats.violations.join("; ")}`
      )
      findings.check(
        Object.keys(brokenByKind).length === 0,
        `every answer was the one called for: ${count(labels["valid"] ?? 0)} valid sequences delivered exactly, each single mutation failed with its own error after the frames before it`,
        `${count(Object.values(brokenByKind).reduce((a, b) => a + b, 0))} sequences got the wrong answer: ${tallyText(brokenByKind)}. Examples: ${brokenExamples.join(" || ")}`
      )
      if (firstBroken !== undefined) {
        const smallest = yield* shrink(address, pool, seed + firstBroken.chunk, firstBroken.index)
        findings.broken.push(`smallest failing sequence: ${smallest}`)
        findings.log(`smallest failing sequence: ${smallest}`)
      }
      findings.check(
        health.failed === 0 && health.ok > 0,
        `the server kept accepting: ${count(health.ok)} of ${count(health.ok)} health checks echoed (slowest ${health.slowestMs.toFixed(0)} ms)`,
        `${health.failed} of ${health.ok + health.failed} health checks got no echo within 2 s`
      )
      findings.check(
        afterFds === baseline && leakedToGc === 0,
        `every descriptor closed by the library: server descriptors ${baseline} before, ${afterFds} after, none left to the garbage collector`,
        `server descriptors ${baseline} before, ${afterFds} after; ${leakedToGc} closed by the garbage-collection backstop`
      )
      // RSS after a run with large payloads says more about the allocator than about leaks
      // (freed buffers stay mapped); the JS heap after a full GC is what the server still holds.
      findings.check(
        heapKept(before, after),
        `nothing kept per connection: server ${memoryText(before, peakRss[0]!, after)}`,
        `server ${memoryText(before, peakRss[0]!, after)}: the JS heap kept ${mb(after.heap! - before.heap!)} MB`
      )
    })
}
