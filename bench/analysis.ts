/**
 * Why the SDK stops where it does: the diagnosis of each target it can miss, what the bench
 * found and fixed, and what is left. Written by hand from profiles (`perf record` with
 * `--perf-basic-prof`, `--cpu-prof`), from `perf stat` context-switch counts, and from partial
 * runs of the bench before and after each change on the same machine. The README shows a
 * target's diagnosis only when the run missed it.
 */
import type { TargetId } from "./targets.ts"

export const diagnoses: Record<TargetId, string> = {
  "latency": `**Why.** Three layers.

1. *The readiness hop (Bun and Deno).* There every readiness event goes epoll thread →
   thread-safe function → the runtime's event loop → JS, so a round trip wakes four threads
   where C wakes two. The same structure written in C (a reactor thread reporting through an
   eventfd to a loop that re-arms EPOLLONESHOT) measured 13.5 µs per round trip pinned against
   9.7 µs for blocking recv/send: 1.39× before any JS runs. Node.js no longer pays it: its
   reactor is a libuv poll handle per socket on Node's own loop (below).
2. *The runtime boundary and Effect.* The profile of the SDK round trip is flat: Effect's fiber
   run loop (resuming the reader through \`Effect.callback\`, the echo's \`handleMessages\`
   loop, the client's \`receive\`, an \`AsyncResource\` per suspension in effect 4.1),
   megamorphic property loads, and the syscalls (each costs 1–1.5 µs on this
   virtual machine). No single item is above a few percent. Measured in one process with the
   data already waiting (no wake-up at all), a \`send\` plus a pull costs about 12 µs where the
   same syscalls cost about 4 µs.
3. *Measured until now under \`node --import tsx\`*, which compiles with esbuild's \`keepNames\`
   (a \`__name\` call per closure made at run time); the package's tsup build does not. The
   bench now compiles its Node.js contenders (SDK, node:net, usocket alike) with esbuild
   first, without keepNames.

**Done.** In Node.js, readiness now comes from Node's own event loop (a libuv poll handle per
socket, started only while someone waits, left started when the callback re-arms it with the
same interest, so a steady ping-pong makes no \`epoll_ctl\` at all): a ping-pong over the
addon without Effect went from 28–37 µs to 13–18 µs, and the SDK round trip from 58.2 to
36.8 µs in partial runs minutes apart (node:net: 18.6 and 19.9 µs in the same runs). Bun
aborts in \`uv_poll_init\` and Deno has no libuv loop, so they keep the epoll thread; the addon
links no libuv symbol and looks libuv up only when the Node.js adapter asks. Earlier: one
\`epoll_ctl\` per arming instead of two, none for sockets never armed, no error objects made
at close: 50.4 → 47.0 µs (Node.js), 36.7 → 34.8 µs (Bun), 75.9 → 65.6 µs (Deno).
Then: a send no longer allocates its frame. V8 puts a typed array over 64 bytes outside its
heap, which cost about 1 µs per allocation here (a 72-byte frame for a 64-byte payload, on
every send) plus the garbage collector's external-memory work; now the header, and a payload
under 4 KiB behind it, are written into one scratch buffer per realm at each attempt and sent
from there (a larger payload goes as a second iovec, as before). A ping-pong between two
connections of one Node.js process (echo fiber and client as in this bench, no scheduler in
between) went from 29–38 µs to 24–29 µs per round trip in alternating runs; in the full runs
the SDK on Node.js went from 2.04× node:net to 1.63× (33.3 vs 20.4 µs).
Tried and dropped: skipping the read that finds the socket empty before waiting (when the
previous read in the same turn found it empty) made the round trip slower — with both ends on
one core the reply has usually arrived by then (the sender is preempted by the woken peer),
and waiting costs a loop turn where the read would have found it.

Then the bench's echo server reads with \`connection.handleMessages\` (a loop of its own: one
poll and one continuation per message, no stream pull), and its client with the new
\`connection.receive\` (one message, no stream to run; it used \`Stream.toPull\` over
\`messages\`, which adds a semaphore per pull). Alternating partial runs, pinned: Bun 50.2 and
50.2 µs → 34.7 and 36.5 µs; Node.js 30.4 and 34.1 µs → 28.6 and 38.4 µs (within the noise;
node:net 21.4–29.6 µs in the same runs).

Then a STREAM drain stops after a read that did not fill the receive buffer, instead of
reading once more only to be told EAGAIN: such a read took everything queued (short of a
descriptor or credentials boundary, which the next pull reads), and the next pull reads before
it waits anyway. One \`recvmsg\` less per message on each end of a ping-pong. In one fiber with
the data always waiting, a \`send\` plus a \`receive\` went from 4.6–5.9 to 3.9–4.0 µs (the bare
syscalls: 1.9–2.9 µs); alternating partial runs, pinned, Node.js: 44.5, 42.3 and 47.6 µs →
32.0, 28.4 and 41.5 µs. The spread between identical runs on this virtual machine (27 to 45 µs
for the same build, node:net 19.5 to 23 µs) is as large as the effect.

Then the hop itself was measured apart from Effect: a ping-pong between two processes over the
addon and the reactor alone (no Effect, no framing), pinned: 13.5–14.2 µs per round trip in
Node.js on its own loop, and with the epoll thread 30.2 (Node.js), 27.4–28.3 (Bun) and
28.9–30.2 µs (Deno) — about 8 µs per wake-up, where the same structure in C costs 2. perf on
the Bun server puts 54% of its samples in the kernel's context switch, and counts per round
trip 1.8 futex calls on the JS thread and 0.9 on the epoll thread (the thread-safe function's
lock) besides the one eventfd write. The lock is not the cost: a prototype that replaced the
thread-safe function by a doorbell (the epoll thread queues events under its own lock and
writes one byte to a socketpair that Bun's own loop reads through \`Bun.connect({ fd })\`)
made no futex call and measured 30.0–30.3 µs against 27.2–28.3 (through
\`Bun.file(fd).stream()\` 33 µs: Bun re-arms its poll and reads twice per wake-up); dropped.
The wake-ups are the cost, and their scheduling: with the epoll thread at nice −10 (which needs
CAP_SYS_NICE) Bun's raw round trip is 19.6–22.5 µs, at nice +10 33.6–36.5; the SCHED_BATCH and
SCHED_IDLE policies, which need no privilege, do not help consistently (Bun 27.0 and 38.0 µs,
Deno 26.7 and 23.7). So in Bun the SDK adds 2–4 µs to the raw hop (29.6–30.2 against
27.4–28.3 µs); in Deno 10–13 µs, and more the longer it runs. Not its Node-API calls, which
cost what they cost in Node.js and Bun (0.15 µs for a trivial call, 0.61 µs for a \`recvmsg\`
that finds nothing, in all three), but effect's \`AsyncResource\` per suspension: 0.57 µs per
\`runInAsyncScope\` against 0.03 in Node.js, and each one chained to the one before (see the
memory target), so every wait is slower than the last — the same Deno pair under perf went
from 18,873 to 6,559 round trips per second over 8 repeats of 300 ms. (The Deno adapter now
resumes a fiber woken by a socket outside that resource, which ends the chain: see the memory
target. In the full run of that change Deno's round trip was 37.3 µs against 41.4 in the one
before: within the noise of this workload.) Deno's libuv compatibility layer is
no way out either: its \`uv_poll_start\` (read in Deno's source) starts an OS thread per call
that polls with a 10 ms timeout.

And the round trip allocates less: a send builds no wrapper object for bare data, no empty
descriptor list and no encoding object; a waiting reader reuses one cancel Effect; the
\`handleMessages\` loop one continuation. Within the noise in alternating partial runs
(Node.js 16.0–17.1 µs against 16.0–16.1 before, node:net 14.9–15.4 in the same runs).

**What would move it.** In Node.js, fewer Effect steps per message on both ends (a fiber
suspension and resumption per message is the larger part of the 2 µs the SDK adds to the raw
addon's 14 µs). In Bun and Deno, being woken by the runtime's own loop for the socket itself,
with no second thread: neither runtime offers an addon a way to watch a descriptor without
reading it. Both will read a socket given by number (\`Bun.connect({ fd })\`, and Deno's
\`new net.Socket({ fd })\`, checked with a socketpair), so a doorbell socket can wake either
loop, but something must ring it when the real socket becomes readable. Without a thread, only
the kernel can: io_uring's POLL_ADD on the socket linked to a one-byte SEND on the doorbell,
completed by the sleeping loop's own thread. Measured first in C (a model: a process whose
thread sleeps in \`epoll_wait\` on the doorbell, echoing 64 bytes to a blocking client, medians
of 5 rounds of 20,000): pinned, blocking \`recv\` 8.7 µs per round trip, the
reactor thread with an eventfd 12.2–14.1, io_uring 11.0–11.8; unpinned 45, 48–50 and 54–56
µs. A microsecond or two pinned and a loss unpinned, before the runtime's own cost of a wake-up
(the doorbell read by Bun's loop measured no faster than the thread-safe function): not worth
an io_uring dependency (often blocked in containers) and its fallback.`,

  "throughput": `**Why.** Every received message gets a buffer of its own (the consumer owns
its bytes, and may keep them), so at 64 KiB per message the receiver writes 64 KiB of fresh
memory per message; C reuses one buffer that stays in the cache. On this machine a fresh
64 KiB costs 13–17 µs: \`new Uint8Array(65536)\` in a loop measured 16 µs per call in Node.js
(68% of it in \`memset\`, the rest in malloc and free), \`slice\` of 64 KiB the same, and a pool
of larger buffers handing out views as much (the cost is writing memory that is not in the
cache, not the allocation call). Measured in the bench, alternating partial runs, pinned,
Node.js: handing out views of the shared receive buffer instead of copies (not shippable: the
next read overwrites them) reached 2,767 and 2,887 MiB/s against 1,390 and 1,546 MiB/s with
the copies; a fresh buffer without the copy, 1,584 and 1,809 MiB/s (node:net 1,631–2,078 in
the same runs, which pays the same fresh buffer per read). The rest is the SDK's per-message
work: an Effect \`send\` per message (and, when the socket buffer is full, a wait for EPOLLOUT
through the reactor), and the frame decoding.

**Done.** Large frames (4 KiB and more) are sent as two iovecs, header and payload, in one
\`sendmsg\` (no copy of the payload behind its header), and a frame gathered across reads is
handed out as it is instead of sliced again: 784 → 1,346 MiB/s (Node.js), 704 → 1,330 (Bun),
480 → 809 (Deno), pinned.
Then, in Node.js, a received message of 1 KiB or more is copied into memory that is not
zero-filled first (the memory of \`Buffer.allocUnsafeSlow\`, under a plain \`Uint8Array\`), and
a frame that spans reads is assembled in it: perf of the receiving process, 64 KiB case,
\`memset\` 5.9% of all samples → 0 and \`memmove\` 3.0% → 7.0% (the first touch of fresh
pages moved into the copy), about 2% of all samples less; in alternating partial runs inside
the noise (3,545–3,825 → 3,277–3,937 MiB/s). Bun's and Deno's unsafe buffers are no faster
than their \`slice\`, so they keep it. Full runs since: 0.98×, then 0.72× and 0.81× node:net
in Node.js (0.94× in the full run before the change). Now and then a whole Node.js run falls into a slower mode for its whole
life (see the findings): which mode the repeats land in decides more than any of these
changes.

Then \`receiveInto(buffer)\`: a message copied into a buffer the caller owns and reuses, as
\`read(buffer)\` does for Deno.listen here (and Go's \`ReadMsgUnix(b, oob)\`, Python's
\`recvmsg_into\`), and the bench's SDK server now reads with it. Lending received bytes to a
handler for its duration (as descriptors are closed after it) was not done: a handler that kept
a reference past its end would see the bytes change under it, and what a consumer is handed
is its own; with \`receiveInto\` the caller decides when its buffer is reused. It reads into
one buffer per realm and queues views of it, copies each into the caller's buffer as it is
taken (a \`receive\` in between gets a copy of its own, and a connection copies what it still
holds before another reads into that buffer), and a frame that spans reads is assembled in
one of two buffers the decoder keeps. Its ceiling, measured before it was built with a build
that handed out views and skipped the copy into the caller's buffer (not shippable), two
partial runs, pinned: Node.js 4,829 and 4,759 MiB/s (node:net 4,110 and 3,412; C 6,616 and
6,674), Bun 3,913 and 3,870 (Bun.listen 4,332 and 4,439), Deno 3,090 and 3,091 (Deno.listen
5,018 and 4,955). With \`receiveInto\`, two partial runs, pinned: Node.js 4,383 and 4,405 MiB/s
(node:net 3,539 and 3,925; C 6,569 and 6,719), Bun 3,563 and 3,588 (Bun.listen 4,579 and 4,296),
Deno 2,529 and 2,625 (Deno.listen 5,145 and 4,844). The receiving process alone
(\`--trace-gc\`, 10 repeats of 300 ms, pinned) made one mark-compact and about 5,000 page
faults in each of 6 runs (3,095–4,632 MiB/s), where the server reading with \`handleMessages\`
fell into the slow mode of the findings (200,000–450,000 page faults, 57–101 mark-compacts) in
5 of 6 runs.

**What would move it.** In Node.js, what separates \`receiveInto\` from its ceiling is the copy
into the caller's buffer (64 KiB, in the cache) and an Effect per call; reading the rest of a
large frame straight into the caller's buffer would save the copy. 0.8× C is out of reach in
all three: the sender's Effect \`send\` per message and, when the socket buffer is full, its
wait through the reactor remain, and in Bun and Deno the wake-up hop (finish_task_switch ~29%
of Bun's samples), which is also why Bun stays under Bun.listen.`,

  "fds": `**Why.** A message with descriptors costs the SDK, per message: an Effect send, one
owned \`Fd\` object per received descriptor kept in the connection's ledger, the frame FIFO,
and (Bun, Deno) the wake-up hop; C does \`sendmsg\`, \`recvmsg\` and \`close\`.

**Done.** Received descriptors are no longer registered with the garbage-collection backstop
(a FinalizationRegistry weak cell each, 16% of the CPU at 16 descriptors per message): they are
owned by their connection's ledger, which closes what is left when the connection closes.
16 descriptors per message: 30,178 → 51,975 msg/s (Node.js), 39,549 → 47,568 (Bun), 34,273 →
38,977 (Deno), pinned; 1 descriptor per message about the same (the per-message costs above
dominate). Then the ledger became an array of slots (each \`Fd\` knows its own) instead of a
\`Set\`, which V8 rehashed as it grew to 16 entries and shrank back with every message (add,
delete and rehash were 4.8% of the receiving process's CPU): 16 descriptors per message,
alternating partial runs, pinned, during a slow hour of this machine (28% of its CPU time
taken by the host): Node.js 33,767 and 29,469 → 40,296 and 37,686 msg/s, Bun 24,401 and
27,499 → 34,962 and 31,463.

Then no typed array is made per send or per read. \`perf\` on the sending process showed
\`malloc\`, \`BackingStore::Allocate\` and \`JSTypedArray::GetBuffer\` near the top: a fresh
\`Int32Array\` of descriptor numbers per send is small enough to live on the JS heap, and the
addon's first look at it (\`napi_get_typedarray_info\`) moves it off the heap, an ArrayBuffer
and a malloc each time. Now each attempt writes the numbers into one scratch array moved off
the heap once, and passes their count (credentials likewise; a small unframed payload is
copied into the frame scratch as a small framed one already was). On the receiving side the
numbers are read out of the result array without a view, and the frame decoder works on
offsets into the read buffer instead of a view per frame. Alternating partial runs, pinned, 1
descriptor per message: Node.js 133,243–144,662 → 148,531–165,173 msg/s (4 pairs, 9 repeats
each), Bun 149,308 and 151,351 → 159,951 and 170,818, Deno 121,596 and 115,488 → 132,825 and
137,396; 16 descriptors: Bun 63,278 and 64,195 → 68,170 and 69,421, Deno 60,912 and 63,374 →
65,537 and 67,121. Latency and throughput did not move beyond the noise.

Then \`Fd.closeAll(fds)\`: a receiver done with a message's descriptors closes them in one call
into the addon, which closes each run of consecutive numbers with one \`close_range(2)\` (the
kernel installs a message's descriptors at the lowest free numbers, so a message's 16 are
usually one run); \`handleMessages\` closes a message's leftovers the same way. In perf of the
Node.js receiver the 16 \`close\` calls per message, each a trip through Node-API and the
syscall entry (\`do_syscall_64\` alone 5.5% of all samples), were the largest cost of its own.
The bench's SDK server closes with it, and the C reference now closes the same way (its rate
rose from 97,180 and 101,751 to 114,256 and 116,333 msg/s, partial runs, pinned); Python and
usocket close each descriptor, as their users write it (Python with \`os.closerange\` per run,
which does make \`close_range\` calls, measured no faster: 73,268 and 61,994 against 73,310 and
69,161 msg/s; its interpreter, not its syscalls, sets its pace). Alternating partial runs,
pinned, 16 descriptors: Node.js 70,743 and 69,193 → 81,287 and 82,947 msg/s, Bun 65,436 and
62,841 → 90,578 and 95,389, Deno 58,755 and 63,612 → 77,974 and 89,112 (Python 64,967 to
73,458 in the same runs).

**Deno at the line.** Before \`Fd.closeAll\`, Node.js and Bun met every check here with room
(0.55–0.62× C, 1.1–1.4× Python and usocket); Deno sat on the lines, on either side from one full
run to the next: one descriptor per message 0.48×, 0.51×, 0.52×, then 0.50× and 0.497× C in the
two runs of 2026-12-05 before it; sixteen 1.00× to 0.96× Python. Its extra cost per message was
the one in the latency diagnosis: effect's \`AsyncResource\` per fiber suspension, each chained to
the one before in Deno, so its runs slowed down as they went (the chain now ends at every socket
wait: see the memory target). In the full run after \`Fd.closeAll\`: 0.53× C with one
descriptor, 1.15× Python with sixteen.

**What would move it.** What is left per message is one \`Fd\` per received descriptor, the
Effect send and pull, and (Bun, Deno) the wake-up hop.`,

  "accept": `**Why.** Per connection the SDK makes the syscalls C makes (\`socket\`, \`connect\`,
a wait for the end of stream and \`close\` on the client; \`accept4\`, \`getsockopt(SO_PEERCRED)\`
and \`close\` on the server) plus \`getsockopt(SO_PEERCRED)\` on the client (its \`peer\`), a
\`recvmsg\` that finds nothing before the client waits and an \`accept4\` that finds the backlog
empty before the server waits. Measured with C on the other end (partial runs, pinned): the
SDK's server with C's client 58–60k conn/s in all three runtimes, C with C 62–67k, so the server
costs about what C's does; the SDK's client with C's server 50.7k (Node.js), 54.1k (Bun), 45.4k
(Deno), and a client written straight on the addon (no Effect) 60k (Node.js) and 57k (Bun).
With the SDK on both ends the rate is well below what those parts add up to (Node.js about
37k against about 47k, Bun 33k against 50k, Deno 27k against 42k): each connection switches the
one core between the two processes about 0.8 times per side, as C's pair does (\`perf stat\`),
but a switch between two JavaScript runtimes costs more cache and TLB refill than between two
small C processes, and in Bun and Deno each side's epoll thread adds a wake-up per event. Deno
paid most per step: effect's chained \`AsyncResource\` per suspension (see the latency and
memory findings) made each of its fibers' waits slower than the last, until the Deno adapter
ended the chain at every socket wait (Deno 28,621 → 29,760 conn/s, 0.47× → 0.52× C, in the full
runs before and after that change).

**Done.** No \`Closed\` errors built at every close (each captured a stack trace: 18% of the
CPU), no \`EPOLL_CTL_DEL\` for descriptors never armed, three syscalls less per connection
(\`accept4\` reports the peer's address; an accepted socket's own address is its listener's; an
unbound client's is none), no Effect per connection for a policy that decides at once (as
\`Policy.sameUser\` does), and \`connect\` and the accept loop as plain calls (an Effect only to
fail or to wait): from 2,720–7,514 conn/s to 11,170–14,860 in the full runs of that time. Since
then the rest of the package got lighter (idle connections, the send path): 26,898–28,642 (Node.js),
29,579–30,530 (Bun), 25,521–27,005 (Deno) in the runs before this one, 0.42–0.48× C.
Then the client. Its cpu profile (line ticks, client against C's server) put one line above
everything else: \`connect\` built the connection's options by spreading the caller's options
object into a new one, about 0.7 µs per connection for an object of a shape V8 had not seen
there; it is now a literal of one shape. A client's \`remoteAddress\` is the address it connected
to, as given (documented; before, \`getpeername\` asked the kernel for the listener's bound
name, one syscall and a decode per connection, and it differed only when the listener was
reached through another name, such as a symlink; a new conformance test checks it in all three
runtimes), and the last address parsed is reused (a client connects to the same address again
and again: one \`TextEncoder\` call less). Client against C's server, alternating runs, Node.js:
38,652–41,066 → 44,329–48,196 conn/s for the first two, 40,694–44,404 → 49,347–51,450 with the
third; Bun 47,718–47,970 → 49,856–52,829. In the bench, pinned: a partial run 36,770 (Node.js,
0.55× C), 32,982 (Bun, 0.49×), 26,576 (Deno, 0.39×); the full run in this README gives the
figures in the table above.

**Variance.** This workload is the least stable of the bench on this virtual machine, whose
host takes CPU time from it (\`steal\` in /proc/stat grew by about 470 s during one 50-minute
session): C has measured 57k to 92k conn/s on the same build; compare this row only within a
run. Deno's ratio sits near the line: 0.51× C in the full run of 0e61c98, 0.47× (28,621 against
61,327 conn/s) in that of 21e29a6 with no change to the accept path in between, 0.52× after the
change to how Deno's fibers resume. Bun's too: 0.50× (28,646 against 57,264 conn/s), then 0.46×
(28,926 against 62,412) in the next full run, where C was faster and the SDK no slower; two
partial runs right after, 0.49× and 0.50× (30,710 and 30,979 against 62,866 and 62,016).

**What would move it.** What is left in all three is Effect's own work per connection (a scope, an acquire–release, a fiber suspension: about 3 µs
of the client's 20 µs against C's server in Node.js).`,

  "idle-memory": `**Why.** An idle connection served by \`serve\` holds, besides its socket: the
fiber \`serve\` forks for it (about 0.9 KiB of heap), the Effect callback it waits on (about
0.7 KiB with \`handleMessages\`, 2.1 KiB for a suspended \`Stream.runForEach(messages)\`), and
the connection itself (about 1 KiB: a Watch, a SendQueue, a FrameDecoder, a ledger for
received descriptors, the peer's credentials), measured in one Node.js process by heap
difference over 8,000 connections. Bun.listen holds a native socket and a small JS object.

**Done.** \`messages\`, \`sink\`, \`close\`, \`end\` and \`detach\` are built on first use,
and empty decoder buffers are shared: 6.8 → 6.0 KiB (Node.js), 7.8 → 6.9 (Bun), 11.9 → 10.5
(Deno) per connection. Then \`handleMessages\` became a loop of its own instead of a
\`Stream.runForEach\` over \`messages\` (the bench's servers use it, as the README's do), and a
connection makes its ledger's \`Set\`, its writable callback and its limits only when it needs
them (one close callback serves all of a server's connections): heap per idle served connection
4.5 → 2.7 KiB; in the bench, per connection from 0 to 10,000, 5.4 → 2.8 KiB (Node.js; 2.2 and 3.2
in two other full runs, against node:net's 2.5–2.7: how far the young generation has grown when
the server is sampled decides the last KiB), 6.6 → 4.1 (Bun), 9.1 → 5.7 (Deno, below
Deno.listen's 6.0). Then the three arrays every connection made at once (its ready queue, its
descriptor FIFO, its send queue) are made on first use (the send queue shares a frozen empty
one while nothing waits): 2,712 → 2,615 bytes of heap per idle served connection (same
measurement). Then the bench stopped measuring Node.js under tsx: its keepNames redefined the
\`name\` of three closures per connection (\`send\`, \`handleMessages\`, the close callback),
each then keeping about 250 bytes of property storage; heap per idle connection in a snapshot
of 6,000, tsx against the compiled build: 3.4 → 2.6 KiB. In RSS the SDK and node:net, both
compiled now, are within a few percent of each other (3.26 against 3.20 KiB in the full run of that change; 2.8
to 3.2 against 3.1 to 3.3 in partial runs): an idle connection costs about what a \`net.Socket\`
costs.

Then a connection makes its send queue, its frame decoder, its ledger of received descriptors
and its bound \`send\` only when first used, and \`serve\` wraps each handler in one exit
finalizer (close the connection, log a failure) and a shared catch, where a catch, an
\`ensuring\` and a close Effect each made a closure (and \`catchCause\` wraps a function that
does not declare its one parameter in a closure of its own): heap per idle served connection
in a snapshot of 5,000 (compiled, as the bench runs it) 2,656 → 2,211 bytes, 11 → 9 closures.
In the bench's partial run (pinned), per connection from 0 to 10,000: 2.46 KiB against
node:net's 3.21.

**Bun.** Bun.listen keeps an idle connection in native memory (1.47 KiB of RSS each). The SDK
in Bun, measured with \`bun:jsc\`'s \`heapStats\` over 5,000 idle connections served by
\`serve\` with \`handleMessages\`: 2,680 bytes of heap and 37.6 cells per connection (13
objects, 12 functions, 10 closure scopes), RSS +4.4 KiB each in that process; with a handler
that only waits (\`Effect.never\`), 1,830 bytes and 18.6 cells. So the connection and the
fiber \`serve\` forks for it already cost more than Bun.listen's whole connection, before any
waiting reader. Even with no fiber at all (the same 5,000 connections taken from
\`server.connections\` and only kept in an array: nothing reads, nothing waits), a connection
costs 1,059 bytes of heap and 7.6 cells, and the process's RSS grows by 2.8 KiB per connection:
above Bun.listen's 1.47 KiB before any handler runs.

**Loading less of Effect moved a step into the window (Node.js).** Since the package imports
effect's modules by path, a Node.js server starts lighter and ends lighter, but grows more in
between. Three runs of the same idle server each way, pinned (RSS at the first sample, at 10,000
connections, growth): with all of effect loaded 77.9 and 83.4 → 106.7 and 108.0 MiB (+28.8 and
+24.6), with only its modules in use 69.9–70.1 → 102.8 MiB (+32.6 to +32.7), hence 3.3 KiB per
connection against 2.5–3.0. The steps show where: 8.0–8.7, 4.0–4.3, 11.0–11.3, 4.0–4.5 and 4.9
MiB per 2,000 connections in each of the three runs, the steady ones 2.0–2.5 KiB per connection,
the first and third committing heap that the full load of effect had already committed (and
left free) before the first sample. \`--min-semi-space-size=16\` did not remove the step: it is
not the young generation. node:net's server takes its step in the first 2,000 (7.3 KiB per
connection there). So the Node.js check sits at the line (3.27 against node:net's 3.22 KiB in
this run; 3.33 and 3.21 against 3.27 and 3.14 in two partial runs after it) while a daemon's
resident memory at 10,000 connections went down by 4–5 MiB.

**What would move it.** Not a lighter \`serve\` alone: a \`serve\` that forked no fiber for an
idle connection (a callback per connection that starts one only when a message arrives) would
save the difference between 1,830 and 1,059 bytes of heap, and the floor measured above is
still about twice Bun.listen's. Below that, a connection would have to live in native memory,
as Bun's own sockets do.`,

  "message-memory": `**Why.** In all three runtimes the SDK's growth is one step, not a slope: one
of the five steps (the first, in every runtime) grows by 9.0–9.2 MiB in Node.js, 10–12 in Bun,
16.6–17.6 in Deno, and the others by 0.0–1.7 MiB (16–19 MiB in Node.js and 31–33 in Deno while
the package imported all of effect: see "Loading less of Effect" below the targets). That step is the young generation (V8's; JavaScriptCore's in Bun) being
written through for the first time: under the server's allocation rate (a message object and its bytes
per message, Effect's own objects per step) every page of both semi-spaces gets touched. How
large the young generation already is when the messages start is decided by the program's
start, not by the messages: in Node.js, \`import("effect")\` alone grows V8's new space from 1
to 16 MiB (\`v8.getHeapSpaceStatistics()\`; \`effect/Effect\` alone, or the package as it now
loads, to 8 MiB), while the node:net contender's starts and stays at 2 MiB, hence its 7 MiB step. With
\`--max-semi-space-size=1\` the same partial run grows by +0.79 MiB in Node.js (+18.1 without
it) and +8.0 MiB in Deno (+32.7 without it), both with all of effect loaded. So the 20 MB line
fell inside V8's heuristic: 18.0, 19.3 (20.2 MB, missed), 16.2, 17.2 and 19.3 MiB in consecutive
full runs (Node.js), until the package stopped loading all of effect (+9.2 MiB). Handing out each
frame without descriptors as the message itself (one object per message instead of two), or
reading 16 KiB at a time instead of 256 KiB (fewer messages alive at once), did not change it:
after the start, a scavenge of the server finds about 500 bytes alive (\`--trace-gc-nvp\`).

**Deno: the chain of AsyncResources, fixed.** Until this change the SDK's server on Deno grew
with every wait: 95.8 MiB over 1,000,000 messages and rising (its heap after a full GC rose
from 18.9 to 76.4 MB over 3,000,000). effect 4.1.0 makes an
\`AsyncResource("effect/Fiber")\` each time a fiber suspends and resumes the fiber inside it
(\`runInAsyncScope\`). Deno 2.9.6 enters the resource as the current execution resource of
that scope (read from \`AsyncResource.toString()\`), so the resource made at the fiber's next
suspension holds it through its captured context: a chain as long as the fiber's suspensions,
which lives as long as the fiber. Reproduction without this package:
\`const step = () => { const r = new AsyncResource("x"); setImmediate(() => { r.runInAsyncScope(step); r.emitDestroy() }) }\`
run 300,000 times leaves 131 MB of heap in Deno 2.9.6 and 3.3 MB in Node.js. Measured the same
way: a resource made inside the previous one's scope, 1,000,000 times, leaves +534 MiB of RSS in Deno (+8.4 in Node.js, +19.4 in
Bun), and each step slows from 4.9 to 16.3 µs; an Effect loop that suspends 1,000,000 times,
+505 MiB and 9.5 → 26 µs per suspension. Now the Deno adapter has a fiber woken by a socket
resume outside its captured resource (destroyed, not entered: \`RuntimeHooks.resumeOutsideAsyncContext\`,
src/internal/asyncContext.ts), which ends the chain at every socket wait. 20,000 round trips
between two connections of one Deno process: heap after a full collection +18.6 MB before, +28
KB after (a conformance test now checks this in all three runtimes). In this bench, partial runs,
pinned: +95.2 → +32.7 MiB, all of it in the first step (then +0.02 MiB per step); Deno.listen,
whose server reads into one buffer, +11 MiB. The price, in Deno only and documented: an
\`AsyncLocalStorage\` value set around an Effect program is not seen in it after a socket wait
(Node.js and Bun keep it). Descriptors do not grow: Deno itself, in any program (a bare
\`setTimeout\` too), makes a socketpair and installs its SIGHUP, SIGTERM, SIGINT and SIGUSR1
handlers about half a second after it starts (strace), two descriptors that the first sample
used to count as growth; the memory cases take their first sample once the server has been
ready for 1.5 s.`
}

export const findings = `- **Deno missed wake-ups: fixed.** Deno 2.9.6 runs a thread-safe function's call as a
  task posted to its event loop, and the loop does not always wake for it: an SDK ping-pong
  between two Deno processes, unpinned, stalled for good (data waiting in the socket, the
  reactor's event posted, nothing run) in each of 5 runs of 20 s, and stalled for seconds in
  the bench. The reactor now posts an empty batch when a batch has not reached JS within 2 ms
  (Deno only; \`RuntimeHooks.redeliverMs\`), whose wake-up runs both: 0 stalls in 8 runs of the
  same test, and no failed or multi-second Deno repeat in the bench.
- **Node.js: readiness from Node's own loop.** One epoll thread per realm reporting through a
  thread-safe function keeps the addon identical in Node.js, Bun and Deno, but each readiness
  event costs a second thread wake-up (measured in C, that alone is 1.39× a blocking ping-pong
  pinned). In Node.js the reactor is now a libuv poll handle per socket on Node's own loop,
  which the Node.js adapter asks for: a raw ping-pong over the addon 28–37 → 13–18 µs, the SDK
  round trip 58.2 → 36.8 µs pinned. Bun (uv_poll_init aborts) and Deno (no libuv loop) keep
  the thread; \`UNIX_SOCKET_FD_PASSING_REACTOR=thread\` selects it in Node.js too.
- **Fixed along the way** (pinned medians, the same partial run before and after, Node.js):
  throughput +72% (header sent as its own iovec, frames handed out without a second copy),
  16-descriptor hand-off +72% (no GC backstop cell per received descriptor), accept +42% (no
  stack-capturing errors at close, one \`epoll_ctl\` per arming), idle memory −11% per
  connection (per-connection streams built on first use). A test sends frames from 0 bytes to
  1 MiB, cut by partial writes, with descriptors, and checks every byte.
- **Short-lived connections and idle ones** (the full run of those changes against the one
  before, pinned):
  accept 2,720 → 12,772 conn/s (Node.js), 7,514 → 14,860 (Bun), 5,396 → 12,764 (Deno), from a
  \`connect\` and an accept loop that build an Effect only to wait or fail; idle memory per
  connection 5.4 → 2.8 KiB (Node.js), 6.6 → 4.1 (Bun), 9.1 → 5.7 (Deno), from a
  \`handleMessages\` that is its own loop rather than a stream, and a connection that makes its
  parts on first use. A new conformance test covers the path a \`connect\` takes while the
  listener's backlog is full (it waits; bounded by a timeout it closes its socket and removes
  its bound file).
- **The client of a short-lived connection** (the full run of that change against the one
  before, pinned): accept 27,932 → 38,146 conn/s (Node.js), 29,579 → 38,053 (Bun), 27,005 →
  34,029 (Deno), 0.57×, 0.57× and 0.51× C: all three met. \`connect\` spread the caller's
  options into a new object (about 0.7 µs per connection), asked the kernel for the listener's
  name (\`remoteAddress\` is now the address connected to) and encoded its address every time.
- **No typed array per send.** A fresh small \`Int32Array\` of descriptor numbers lived on the
  JS heap, and Node-API's first look at it moved it off (a malloc and an ArrayBuffer per send,
  in all three runtimes); the addon now reads the numbers from one scratch array with a count.
  1 descriptor per message +10% to +19% (Node.js, Bun, Deno), alternating partial runs.
- **Deno: heap growth with every wait, fixed.** effect 4.1 makes an AsyncResource per fiber
  suspension and Deno 2.9 chains each to the one before (about 0.9 KB per round trip, kept as
  long as the fiber lives); the Deno adapter now resumes fibers woken by a socket outside it,
  which ends the chain: 1,000,000 messages +95.8 → +31 MiB (one step, then flat), 20,000 round
  trips +18.6 MB → +28 KB (see the memory target above).
- **Checks near their line flip between full runs.** This virtual machine's host takes CPU time
  from it unevenly, so a check within about 10% of its line can land on either side from one
  full run to the next with no change in between: the full run of a fresh clone of 71295ae met
  26 checks where the full run that commit's bench/README.md came from, half an hour before on
  the same code, met 31 (descriptor hand-off with 1 descriptor 0.44–0.48× C and 0.96–0.99× Python there, Node.js
  latency 1.27× node:net; the SDK on Node.js and Bun 166,520–177,623 and 175,308–189,173 msg/s
  with 1 descriptor against Python's 133,044–138,590 in four partial runs right after it).
  Compare within a run, and read a ratio near 1 as a tie.
- **A message's descriptors closed in one call.** \`Fd.closeAll(fds)\` closes each run of
  consecutive numbers with one \`close_range(2)\` (a message's descriptors usually are one run),
  and \`handleMessages\` closes leftovers with it; the bench's SDK server and the C reference
  close that way, Python and usocket one \`close(2)\` each (Python with \`os.closerange\`
  measured no faster). 16 descriptors per message, alternating partial runs, pinned: Node.js
  70,743 and 69,193 → 81,287 and 82,947 msg/s, Bun 65,436 and 62,841 → 90,578 and 95,389, Deno
  58,755 and 63,612 → 77,974 and 89,112; C 97,180 and 101,751 → 114,256 and 116,333 (see the
  descriptor target).
- **Loading less of Effect.** The package imported its Effect modules from \`"effect"\`, whose
  index evaluates all 143 modules of effect 4.1; it now imports each module it uses by path
  (\`effect/Effect\`, \`effect/Stream\`, …), and so does the bench's SDK program (a program that
  imports from \`"effect"\` loads them all again). Loading the Node.js adapter (compiled as the
  bench compiles it): 170 → 50 ms, heap after a full collection 16.3 → 7.0 MB, RSS 79 → 57 MiB,
  V8's new space 16 → 8 MiB; the Deno adapter 100 → 50 ms, heap 18.2 → 8.8 MB, RSS 77 → 57 MiB;
  the Bun adapter 88 → 28 ms, RSS 55 → 38 MiB. The messages case, alternating partial runs,
  pinned: Node.js +16.9 and +17.8 → +9.0 and +9.1 MiB, Deno +30.5 and +32.0 → +17.2 and +17.6
  MiB (the young generation written through is smaller: see the memory target), Bun unchanged
  (+9.4 to +11.7 MiB either way).
- **Node.js under tsx paid for keepNames:** \`node --import tsx\` defines a name on every
  closure created at run time, and a function whose \`name\` is redefined keeps its properties
  out of line: a heap snapshot of 6,000 idle SDK connections showed three such closures per
  connection (\`send\`, \`handleMessages\` and the close callback), 3.4 KiB of heap per
  connection where the compiled build needs 2.6 KiB. Users run the compiled package, so the
  bench now compiles its Node.js contenders (the SDK, node:net and usocket alike) with esbuild,
  without keepNames, before it measures; Bun and Deno run the TypeScript as it is.
- **What the epoll thread's hop costs (Bun, Deno):** about 8 µs per wake-up on this machine
  (a raw ping-pong over the addon: 14 µs on Node's own loop, 28–30 µs through the thread in
  all three runtimes), most of it context switches; not the thread-safe function's lock (a
  doorbell socketpair read by Bun's own loop instead made no futex call and was no faster);
  with the epoll thread at nice −10 Bun's raw round trip is 20 µs (see the latency target).
  Nothing in the SDK's own code is near that.
- **Idle connections, lighter:** a connection makes its send queue, frame decoder, descriptor
  ledger and bound \`send\` on first use, and \`serve\` wraps a handler in one exit
  finalizer instead of a catch, an \`ensuring\` and a close Effect: 2,656 → 2,211 bytes of
  heap per idle served connection (Node.js, heap snapshot of 5,000).
- **64 KiB buffers and glibc's heap trimming (Node.js, any receiver):** perf of the SDK's
  receiver unpinned shows page faults taking a fifth of its samples (\`exc_page_fault\`,
  \`clear_page\`, \`unmap_page_range\`, memcg charging): freed message buffers coalesce at the
  top of glibc's heap, glibc gives the pages back to the kernel (its trim threshold is 128 KiB),
  and the next buffers fault them in again, zeroed by the kernel. With the process's
  \`MALLOC_TRIM_THRESHOLD_=1073741824\` (a glibc setting, the process owner's to make), partial
  runs alternating with and without it, 7 repeats: SDK on Node.js unpinned 3,557 / 3,025 /
  2,569 / 5,167 → 4,441 / 4,752 / 5,278 / 5,566 MiB/s, pinned 3,333 / 2,990 / 3,262 → 3,650 /
  3,967 / 3,699; node:net gains as well (pinned 3,452 / 3,373 → 3,973 / 4,173). The bench runs
  every contender with the default.
- **An occasional slow mode of 64 KiB throughput (Node.js):** now and then a whole SDK run
  moves 500–800 MiB/s instead of 2–3.5 GiB/s (1 run in 6 to 20 here). \`--trace-gc\` on the
  receiving process shows why: in the normal mode each received message's buffer dies young and
  scavenges triggered by external memory free them every ~10 ms; in the slow mode V8 runs a
  full mark-compact every 40–70 ms ("GC in old space requested") for the rest of the process's
  life, and perf shows concurrent marking and sweeping taking the core. node:net (fresh 64 KiB
  buffers too, but allocated by Node's C++ side) did not show it in 8 runs. The heuristic is
  V8's; what avoids it is no fresh buffer per message (\`receiveInto\`, see the throughput target).
  Narrowed down since (the receiving process alone under \`--trace-gc\`, 10 repeats of 300 ms,
  pinned, 6 runs per setting): with V8's defaults 3 runs of 6 stayed in the slow mode (702–1,199
  MiB/s, 83–101 mark-compacts); with \`--single-threaded-gc\` none did (2,046–3,728 MiB/s, one
  mark-compact per run); with only \`--no-concurrent-array-buffer-sweeping\` none fell below
  1,853 MiB/s (2–8 mark-compacts). So it is V8's concurrent collection sharing one busy core
  with the process it collects for: once a mark-compact starts while buffers are being made
  at this rate, the next one follows. node:net's receiver (4 MB of heap, against the SDK's
  17–19 MB with Effect loaded) ran 4 of 4 such runs without a single mark-compact. Unpinned
  it is the same: 2 SDK runs of 3 with 76 and 114 mark-compacts (698–3,083 MiB/s), node:net
  2 of 2 with none. \`--trace-incremental-marking\` gives each cycle's start as V8's
  allocation limit (old generation 16 MB of a 40 MB limit); a smaller young generation
  (\`--max-semi-space-size=4\`) does not prevent it (3 runs of 5 in the storm). Unpinned,
  \`--single-threaded-gc\` prevents the storm too (one mark-compact in each of 4 runs) but is
  no faster there (969–2,340 MiB/s): across cores the wake-ups set the pace. A flag is
  the process owner's choice, not a library's; the full run of a fresh clone (6 min 11 s) drew
  the slow mode for Node.js pinned (734 MiB/s), the other two full runs of this session did not.
  Since (same check, pinned, the shipped build unless said): \`--no-incremental-marking\` prevents
  the storm (1 or 2 mark-compacts in each of 5 runs) but not the faults of the bullet above (1.5–1.8
  per message; 2,455–3,772 MiB/s); \`--max-semi-space-size=1\` makes it certain (6 runs of 6,
  93–144 mark-compacts, 658–1,198 MiB/s); a build whose only fresh buffers are those of frames
  that span two reads (one frame in three or four) still storms in every run (6 of 6, about 47
  mark-compacts, 2,658–3,263 MiB/s); a server reading with \`receiveInto\`, which makes no buffer per
  message, never does (6 runs of 6, see the throughput target). The fresh buffers are the
  trigger, whatever their number; a server that reads large messages should use
  \`receiveInto\`.`
