/**
 * Why the SDK stops where it does: the diagnosis of each target it can miss and of the library
 * problems the bench found. Written by hand from profiles and from a prototype of the proposed
 * changes measured against the unchanged code on the same machine (CPU time per operation of
 * both ends in one process, `process.cpuUsage()`, which a loaded machine disturbs far less than
 * wall time). The README shows a target's diagnosis only when the run missed it.
 */
import type { TargetId } from "./targets.ts"

export const diagnoses: Record<TargetId, string> = {
  "latency": `**Why.** Three layers, each measured on this machine.

1. *The design's extra hop.* Every readiness event goes epoll thread → thread-safe function (a
   malloc'd batch, a mutex, an eventfd write) → the runtime's event loop → JS, so a round trip
   wakes four threads where C wakes two. The same structure written in C (a reactor thread
   reporting through an eventfd to a loop that re-arms EPOLLONESHOT, both ends pinned): 13.5 µs
   per round trip, against 9.7 µs for blocking recv/send and 10.1 µs for one epoll loop per
   process, i.e. 1.39× before any JS runs; unpinned 28.6 µs against 8.6 µs (the hop becomes a
   cross-core wake-up).
2. *The runtime boundary.* The addon driven by plain JS callbacks (no Effect, no framing
   objects) costs 27–39 µs of CPU per round trip in Node.js and 21–23 µs in Bun.
3. *The SDK's own layers double that:* 39–58 µs (Node.js), 35–46 µs (Bun). A perf profile of the
   SDK round trip has Effect's fiber run loop at 52% inclusive (half of it the syscalls made
   inside it), the epoll thread at 16%, context switches at 11%, and, under \`node --import tsx\`
   only, 7% in \`Object.defineProperty\`: tsx compiles with esbuild's \`keepNames\`, so every
   closure the SDK creates at run time gets its name defined (the package's tsup build does not
   set keepNames).

**Proposed fixes.** (a) \`native/reactor.cc\` with \`adapters/node\`: in Node.js, watch
descriptors with \`uv_poll_t\` on the runtime's own loop (\`napi_get_uv_event_loop\`) instead
of the epoll thread (Bun and Deno keep the thread, where uv_poll does not work): one wake-up
and the thread-safe-function hand-off fewer per event, −3.8 µs per round trip pinned and
−20 µs unpinned by the C measurement above. (b) \`src/internal/connection.ts\` \`#drain\`: stop
after a short STREAM read that carried no descriptors or credentials (the queue is empty, and
re-arming EPOLLONESHOT re-checks readiness), which saves the EAGAIN \`recvmsg\` of every
wake-up; \`native/reactor.cc\` \`CallJs\`: reuse one Int32Array for event batches instead of an
ArrayBuffer per batch. With the send-path change of the throughput target, a prototype measured
36 µs against 39 µs of CPU per round trip in Node.js and 25.8 against 35.3 µs in Bun. (c) What
is left is Effect's per-wake-up work (a fiber resumed through \`Effect.callback\`, the
\`Stream.fromPull\` and \`runForEach\` layers, an \`AsyncResource\` per suspension in effect
4.1): not prototyped. Even Bun.listen (one epoll loop, no Effect) stays above 1.3× C here, so
this target is out of reach for a JS runtime on this machine; "lower than the runtime's own API"
needs (a) and (c).`,

  "throughput": `**Why.** Each 64 KiB message is copied twice in JS besides the kernel's two
copies: \`encodeFrame\` (\`src/internal/framing.ts\`: \`new Uint8Array(8 + n)\`, zero-filled,
then \`set\`) on the way out, and \`FrameDecoder#emit\` (\`frame.slice(8)\`, plus \`#append\`
for frames split across reads) on the way in. CPU profile of the 64 KiB flood, both ends in one
process: \`#emit\` 19.5%, \`encodeFrame\` 15.8%, \`sendmsg\` 13.2%, \`recvmsg\` 11.2%, garbage
collection 4.8%.

**Proposed fixes.** (1) Send header and payload with one \`sendmsg\` of two iovecs:
\`native/syscalls.cc\` \`SendMsg\` takes an optional second buffer, and
\`src/internal/outgoing.ts\` writes the 8-byte header into one shared off-heap scratch when the
entry is sent (partial writes continue by offset), so nothing is allocated or copied per
message. Prototype: 110 → 69 µs of CPU per 64 KiB message (−37%, about +60% throughput). (2)
Receive a frame that does not fit the read directly into its own buffer (\`recvmsg\` at the
pending frame's offset) and hand out a frame that fills most of a read as a view of a fresh
buffer instead of a \`slice\` copy: removes the \`#emit\` share (about a fifth of the CPU; not
prototyped). The rest is the thread hop per wake-up (the socket buffer holds about three 64 KiB
messages, so the sender waits for EPOLLOUT every third message).`,

  "fds": `**Why.** Every received descriptor becomes an \`Fd\` registered with the
garbage-collection backstop (\`src/Fd.ts\`, the constructor's \`backstop.register\`, and
\`unregister\` in \`close\`/\`take\`): a FinalizationRegistry weak cell per descriptor. With 16
descriptors per message, \`FinalizationRegistry.register\` is 15.7% of the CPU and the young
generation scavenges it makes expensive take about as much again.

**Proposed fix.** Register only \`Fd\`s that have no owner (\`Fd.open\`, \`adopt\`, \`pipe\`,
\`dup\`). A received \`Fd\` is held by its connection's ledger (\`ReceivedFds\`) until it is closed
or taken, and the ledger closes what is left when the connection closes, so the collector can
never find one open: the backstop never fires for them. Prototype: 1 descriptor per message
10.8 → 6.6 µs of CPU per message (+64% rate), 16 descriptors 32.2 → 14.6 µs (+120%) in Node.js;
23.5 → 18.2 µs in Bun. Smaller: \`Array.from(meta.subarray(...))\` and
\`fifo.splice(...).filter(...)\` per frame, and small typed arrays made per message and handed to
the addon (the frame, \`new Int32Array(fds)\` in \`prepare\`), which Node-API moves off the V8 heap
(a malloc each); the shared-scratch send path of the throughput fix removes those.`,

  "accept": `**Why.** Per connection the SDK spends about 220 µs of CPU (client and server
together, both in one process) where C spends about 14 µs. The largest single item: closing a
connection makes up to two \`Closed\` errors (\`src/internal/connection.ts\` \`#release\`:
\`this.#queue.close(closedError("sendmsg"))\` and \`this.#terminal = closedError("recvmsg")\`),
each an Error capturing a stack trace (effect's error base constructor: 18.5% of the CPU), which
nobody sees unless a send is pending or the stream is pulled again.

**Proposed fixes.** (1) Make them lazily: \`SendQueue.close\` takes a factory that runs only if
a send is queued or comes later, and the terminal state records "closed" for \`#poll\` to turn
into the error. (2) \`localAddress\`/\`remoteAddress\` are read in the constructor
(\`getsockname\` + \`getpeername\`, two syscalls and two allocations per connection): make them
lazy getters. (3) \`Watch.close\` (\`src/internal/reactor.ts\`) calls \`EPOLL_CTL_DEL\` even for a
descriptor that was never armed (ENOENT): remember whether it was registered. Prototype of the
three: 206–222 → 118–154 µs per connection (+45–75% accept rate). What remains is spread over
about 14 syscalls per connection (C needs 7), two hops through the epoll thread, one Effect
fiber and one Stream per connection: 0.5× C (about 28 µs per connection) is out of reach
without a different accept path.`,

  "idle-memory": `**Why.** An idle connection served by \`serve\` holds about 7.3 KB of JS heap
(heap snapshot difference over 2,000 connections, Node.js): 29 closures and 19 contexts
(2.5 KB), 9 arrays (1.8 KB), the connection's fiber and its Effect primitives, and per
connection a Stream, a Sink, a SendQueue, a Watch, a FrameDecoder with an empty Uint8Array of
its own, a ReceivedFds with a Set, and an AsyncResource (effect captures one at each fiber
suspension). \`src/internal/connection.ts\` builds per instance, eagerly: \`messages\`
(\`Stream.fromPull\`), \`sink\` (\`Sink.forEach\`), and the function-valued fields \`send\`,
\`handleMessages\`, \`close\`, \`end\`, \`detach\`.

**Proposed fix.** Make \`messages\`, \`sink\` and \`close\` on first use, \`send\` a lazily bound
function (it must stay usable unbound), \`end\`/\`detach\` getters, and share one empty buffer
in \`FrameDecoder\`. Prototype: 7.3 → 5.8 KB of heap per idle connection (−21%). The remaining
4 KB or so is the fiber \`serve\` forks per connection and the Stream pull it waits in; staying
at or under the runtime's own socket objects needs a reader that parks no fiber while the
connection is idle.`,

  "message-memory": `**Why (Deno).** The SDK's server on Deno grows without bound: its heap
after a full GC rose from 18.9 to 76.4 MB over 3,000,000 messages (about 20 bytes per message)
where Node.js and Bun stay flat (and their RSS growth is a few MB). The cause is outside this
package: effect 4.1.0 resumes every suspended fiber inside
\`new AsyncResource("effect/Fiber").runInAsyncScope(...)\` (\`FiberImpl.evaluate\` and
\`captureAsyncContext\` in \`effect/dist/internal/effect.js\`), and Deno's \`node:async_hooks\`
leaks about 430 bytes per nested \`runInAsyncScope\` call. Reproduction without this package:
\`const step = () => { const r = new AsyncResource("x"); setImmediate(() => { r.runInAsyncScope(step); r.emitDestroy() }) }\`
run 300,000 times leaves 131 MB of heap in Deno 2.9.6 and 3.3 MB in Node.js; a heap snapshot
shows one AsyncResource and two arrays kept per suspension. A plain Effect loop of
\`Effect.yieldNow\` shows the same growth in Deno (470 bytes per yield). The SDK's I/O-driven
resumptions (from the reactor's callback) do not nest and do not leak; fibers that yield to the
scheduler while working through a batch do. **Fix:** report it to Deno (the leak) and to Effect
(an AsyncResource per suspension, which also costs about 130 ns in Node.js); the adapter cannot
work around it, since effect looks up \`process.getBuiltinModule("node:async_hooks")\` once when it
loads.`
}

export const findings = `- **The architecture sets the floor.** One epoll thread per realm reporting through a
  thread-safe function keeps the addon identical in Node.js, Bun and Deno, but each readiness
  event costs a second thread wake-up: measured in C, that alone is 1.39× a blocking ping-pong
  when pinned and 3.3× unpinned. In Node.js, \`uv_poll_t\` on the runtime's own loop would remove it.
- **Per-message work in JS dominates the rest.** In the order of measured gain, from a prototype
  of each change against the unchanged code (CPU per operation, both ends in one process):
  received descriptors registered with the FinalizationRegistry backstop (\`src/Fd.ts\`:
  +64% to +120% descriptor hand-off), two stack-capturing \`Closed\` errors made at every close
  (\`src/internal/connection.ts\` \`#release\`: with lazy addresses and no EPOLL_CTL_DEL for
  never-armed descriptors, +45–75% accept rate), 64 KiB frames copied into a new frame to send
  (\`encodeFrame\`: writev instead, +60% throughput) and sliced out on receipt (\`#emit\`), and
  per-connection closures and streams built eagerly (−21% memory per idle connection).
- **Deno: unbounded heap growth** under sustained load, from effect 4.1's AsyncResource per
  fiber suspension meeting a Deno \`runInAsyncScope\` leak (see the memory target above).
- **Node.js under tsx pays for keepNames:** \`node --import tsx\` defines a name on every closure
  created at run time (7% of the CPU of a round trip). A compiled build (the package's tsup
  output) does not.
- **Deno stalls.** Twice during development a Deno SDK repeat stalled for seconds (one 300 ms
  latency repeat averaged 130 ms per round trip; another ran 24.8 s for 7,753 round trips); not
  reproduced on demand, so only recorded here.
- **Shared checkout.** Other test runs in the same checkout delete and rebuild
  \`build/Release/unix_socket.node\` and \`prebuilds/\`; an SDK run that starts while the addon is
  missing fails with \`Unsupported\` and shows as **failed**. The runner checks that the addon
  loads before it starts.`
