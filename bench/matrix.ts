/**
 * What `npm run bench` measures: the contenders (how to start each one's server and client),
 * the cases (a workload with its parameters), and which contender runs which case.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const benchDir = path.dirname(fileURLToPath(import.meta.url))
export const root = path.resolve(benchDir, "..")
/** Built and installed by the bench itself; not committed. */
export const buildDir = path.join(benchDir, ".build")
export const referenceBinary = path.join(buildDir, "reference")
export const usocketPrefix = path.join(buildDir, "usocket")

const bin = (name: string) => path.join(root, "node_modules/.bin", name)
const script = (name: string) => path.join(benchDir, name)
/**
 * The Node.js contenders run as one ES module each, compiled by the bench (bench/run.ts, esbuild,
 * dependencies left as imports) as the package's own build is: under `node --import tsx`,
 * esbuild's keepNames gives every closure made at run time a `name` property (a call, and about
 * 250 bytes of property storage per closure kept), which users of the built package never pay.
 */
export const nodeBuilds = ["sdk.ts", "node-net.ts", "usocket.ts"] as const
export const nodeBuild = (name: (typeof nodeBuilds)[number]) => path.join(buildDir, name.replace(/\.ts$/, ".mjs"))

/** The Deno permission flags a user of this package passes (README), and --expose-gc for memory samples. */
const denoRun = ["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-run", "--allow-env", "--allow-sys", "--v8-flags=--expose-gc"]

export type ContenderId =
  | "c"
  | "sdk-node"
  | "sdk-bun"
  | "sdk-deno"
  | "node-net"
  | "bun-native"
  | "deno-native"
  | "python"
  | "usocket"

export interface Contender {
  readonly id: ContenderId
  /** Its name in tables and the chart. */
  readonly label: string
  /** What it is, for the README. */
  readonly about: string
  /** The argv before `<role> <workload> <socket path> key=value...`. */
  readonly command: ReadonlyArray<string>
}

export const contenders: ReadonlyArray<Contender> = [
  {
    id: "c",
    label: "C reference",
    about: "bench/reference/*.c, `cc -O2`: raw syscalls, blocking sockets for one connection, epoll for many",
    command: [referenceBinary]
  },
  {
    id: "sdk-node",
    label: "SDK on Node.js",
    about: "bench/sdk.ts, compiled by the bench (esbuild), under `node` with `NodeUnix.layer`",
    command: [process.execPath, "--expose-gc", nodeBuild("sdk.ts")]
  },
  {
    id: "sdk-bun",
    label: "SDK on Bun",
    about: "the same bench/sdk.ts under `bun` with `BunUnix.layer`",
    command: [bin("bun"), script("sdk.ts")]
  },
  {
    id: "sdk-deno",
    label: "SDK on Deno",
    about: "the same bench/sdk.ts under `deno run` (the README's permission flags) with `DenoUnix.layer`",
    command: [bin("deno"), ...denoRun, script("sdk.ts")]
  },
  {
    id: "node-net",
    label: "node:net",
    about: "bench/node-net.ts (compiled like bench/sdk.ts): `net.createServer` / `net.connect` on a socket path (bytes only)",
    command: [process.execPath, "--expose-gc", nodeBuild("node-net.ts")]
  },
  {
    id: "bun-native",
    label: "Bun.listen",
    about: "bench/bun-native.ts: `Bun.listen` / `Bun.connect` with `unix:` (bytes only)",
    command: [bin("bun"), script("bun-native.ts")]
  },
  {
    id: "deno-native",
    label: "Deno.listen",
    about: "bench/deno-native.ts: `Deno.listen` / `Deno.connect` with `transport: \"unix\"` (bytes only)",
    // Deno.listen and Deno.connect on a unix path need --allow-net besides read and write.
    command: [bin("deno"), ...denoRun, "--allow-net", script("deno-native.ts")]
  },
  {
    id: "python",
    label: "Python socket",
    about: "bench/python.py: system python3, stdlib `socket` (`send_fds`/`recv_fds`, SO_PEERCRED), `selectors` for many connections",
    command: ["python3", script("python.py")]
  },
  {
    id: "usocket",
    label: "usocket (npm)",
    about: "bench/usocket.ts (compiled like bench/sdk.ts): usocket@1.1.0 (a native addon that passes descriptors) under Node.js, installed by the bench into bench/.build/usocket",
    command: [process.execPath, "--expose-gc", nodeBuild("usocket.ts")]
  }
]

export const contender = (id: ContenderId): Contender => contenders.find((c) => c.id === id)!

export type Better = "lower" | "higher"

/** One number a case yields per repeat, computed from the client's result line. */
export interface Metric {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly better: Better
}

export type CaseKind = "timed" | "memory"

export interface Case {
  readonly id: string
  /** The workload number and name in the issue. */
  readonly title: string
  readonly kind: CaseKind
  readonly workload: "latency" | "throughput" | "fds" | "accept" | "concurrent" | "idle" | "messages"
  /** key=value parameters given to both server and client. */
  readonly params: Readonly<Record<string, string | number>>
  readonly contenders: ReadonlyArray<ContenderId>
  readonly metrics: ReadonlyArray<Metric>
  /** What exactly is measured, for the README. */
  readonly about: string
}

const everyone: ReadonlyArray<ContenderId> = ["c", "sdk-node", "sdk-bun", "sdk-deno", "node-net", "bun-native", "deno-native", "python", "usocket"]
const manyConnections: ReadonlyArray<ContenderId> = ["c", "sdk-node", "sdk-bun", "sdk-deno", "node-net", "bun-native", "deno-native", "python"]
const fdPassing: ReadonlyArray<ContenderId> = ["c", "sdk-node", "sdk-bun", "sdk-deno", "python", "usocket"]
const credentials: ReadonlyArray<ContenderId> = ["c", "sdk-node", "sdk-bun", "sdk-deno", "python"]

const roundTrip: Metric = { id: "rtt", title: "round trip", unit: "µs", better: "lower" }

export const cases: ReadonlyArray<Case> = [
  {
    id: "latency-stream",
    title: "1. Latency, framed STREAM",
    kind: "timed",
    workload: "latency",
    params: { type: "stream", size: 64 },
    contenders: everyone,
    metrics: [roundTrip],
    about:
      "One connection; the client sends a 64-byte message and waits for its echo, again and again. Framed contenders " +
      "(SDK, C, Python) send an 8-byte header and 64 bytes per message (the SDK's default length-prefixed framing); " +
      "bytes-only contenders send 64 bytes. Value: wall time of a repeat divided by its round trips (mean round trip)."
  },
  {
    id: "latency-seqpacket",
    title: "1. Latency, SEQPACKET",
    kind: "timed",
    workload: "latency",
    params: { type: "seqpacket", size: 64 },
    contenders: credentials,
    metrics: [roundTrip],
    about: "As above over SOCK_SEQPACKET: 64-byte packets, no header (the kernel keeps message boundaries)."
  },
  {
    id: "throughput",
    title: "2. Throughput, 64 KiB framed STREAM",
    kind: "timed",
    workload: "throughput",
    params: { size: 65536, batch: 64 },
    contenders: everyone,
    metrics: [{ id: "throughput", title: "throughput", unit: "MiB/s", better: "higher" }],
    about:
      "One connection; the client sends 64 KiB messages (framed: 8-byte header + 64 KiB; bytes-only: 64 KiB writes), each " +
      "send waiting for the kernel to take it (backpressure respected), and the server acknowledges every 64 messages " +
      "(4 MiB) with one byte. The SDK's server reads each message into one buffer of its own with `receiveInto` (as " +
      "Deno.listen's reads with `read(buffer)`); node:net, Bun.listen, Python and usocket take a fresh buffer per read. " +
      "Value: payload MiB per second over the repeat."
  },
  {
    id: "fds-1",
    title: "3. Descriptor hand-off, 1 fd per message",
    kind: "timed",
    workload: "fds",
    params: { fds: 1, size: 8, batch: 64 },
    contenders: fdPassing,
    metrics: [{ id: "rate", title: "hand-off rate", unit: "msg/s", better: "higher" }],
    about:
      "One connection; every message carries 8 bytes and one descriptor (an open /dev/null, SCM_RIGHTS); the receiver " +
      "closes each descriptor it gets and acknowledges every 64 messages. Value: messages per second."
  },
  {
    id: "fds-16",
    title: "3. Descriptor hand-off, 16 fds per message",
    kind: "timed",
    workload: "fds",
    params: { fds: 16, size: 8, batch: 64 },
    contenders: fdPassing,
    metrics: [{ id: "rate", title: "hand-off rate", unit: "msg/s", better: "higher" }],
    about:
      "As above with 16 descriptors per message (16 open /dev/null), each of the 16 closed by the receiver: the C " +
      "reference and the SDK (`Fd.closeAll`) with one close_range(2) per run of consecutive numbers (a message's " +
      "16 usually are), Python (`os.close`) and usocket (`fs.closeSync`) with one close(2) each (Python with " +
      "`os.closerange` per run, which makes close_range(2) calls, measured no faster)."
  },
  {
    id: "accept",
    title: "4. Accept with the peer-credential check",
    kind: "timed",
    workload: "accept",
    params: { window: 16 },
    contenders: credentials,
    metrics: [{ id: "rate", title: "accept rate", unit: "conn/s", better: "higher" }],
    about:
      "The client keeps 16 connections in flight: connect, then wait until the server has closed it. The server " +
      "accepts, reads the peer's SO_PEERCRED, authorizes it by uid (the SDK: `Policy.sameUser`, the default) and " +
      "closes it without reading. Value: connections per second."
  },
  {
    id: "concurrent",
    title: "5. 1,000 concurrent connections",
    kind: "timed",
    workload: "concurrent",
    params: { conns: 1000, size: 64 },
    contenders: manyConnections,
    metrics: [
      { id: "rate", title: "requests", unit: "req/s", better: "higher" },
      { id: "p99", title: "p99 latency", unit: "µs", better: "lower" }
    ],
    about:
      "One client process opens 1,000 connections to one server and sends a 64-byte request on each in turn " +
      "(round robin); each connection then keeps exactly one request in flight, sending the next as soon as the echo " +
      "of the last one is back (closed loop, 1,000 requests always outstanding). Values: requests per second, and " +
      "the 99th percentile of request latency (send to echo) within the repeat."
  },
  {
    id: "idle",
    title: "6. Memory per idle connection",
    kind: "memory",
    workload: "idle",
    params: { conns: 10000, steps: 5 },
    contenders: manyConnections,
    metrics: [
      { id: "rss", title: "server RSS per connection", unit: "KiB", better: "lower" },
      { id: "fds", title: "server descriptors per connection", unit: "fds", better: "lower" }
    ],
    about:
      "A client process opens 10,000 connections in 5 steps of 2,000 to a server process that reads from every " +
      "connection (each one waits for data, as a daemon's would). At the start and after each step the server, asked " +
      "on a control connection, reports its VmRSS and open descriptors after a full garbage collection. Repeats: " +
      "the 5 steps, each as (growth in the step) / 2,000; the total column is (growth from start to 10,000) / 10,000."
  },
  {
    id: "messages",
    title: "6. Memory over 1,000,000 messages",
    kind: "memory",
    workload: "messages",
    params: { count: 1000000, steps: 5, size: 64 },
    contenders: manyConnections,
    metrics: [
      { id: "rss", title: "server RSS growth", unit: "MiB", better: "lower" },
      { id: "fds", title: "server descriptor growth", unit: "fds", better: "lower" }
    ],
    about:
      "One client sends 1,000,000 64-byte messages (framed where the contender frames) one way to one server, in 5 " +
      "steps of 200,000. At the start and after each step the server reports VmRSS and open descriptors after a full " +
      "garbage collection. Repeats: the growth within each step; the total column is the growth from the start to " +
      "the 1,000,000th message."
  }
]

export type Mode = "pinned" | "unpinned"
export const modes: ReadonlyArray<Mode> = ["pinned", "unpinned"]
