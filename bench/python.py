#!/usr/bin/env python3
"""The Python contender: the system python3's stdlib only.

`socket` with `send_fds`/`recv_fds` for descriptors and SO_PEERCRED for credentials, blocking
sockets for one connection and `selectors` (epoll) for many. It speaks the SDK's framed wire
format on STREAM sockets (8-byte header: u32 BE length, u16 BE descriptor count, u16 zero)
and the bench's process protocol (see bench/contender.ts):

  python3 bench/python.py <server|client> <workload> <socket path> key=value...
"""
import gc
import json
import os
import selectors
import socket
import struct
import sys
import time

HEADER = struct.Struct(">IHH")
HEADER_BYTES = HEADER.size
MAX_FDS = 253
RECEIVE_BYTES = 256 * 1024
MEASURE_BYTE = 0x4D


def parse_options(argv):
    role, workload, address, *rest = argv
    values = dict(pair.split("=", 1) for pair in rest)
    number = lambda key, default: float(values[key]) if key in values else default
    return {
        "role": role,
        "workload": workload,
        "address": address,
        "seqpacket": values.get("type") == "seqpacket",
        "size": int(number("size", 64)),
        "fds": int(number("fds", 1)),
        "batch": int(number("batch", 1)),
        "window": int(number("window", 1)),
        "conns": int(number("conns", 1)),
        "count": int(number("count", 0)),
        "steps": int(number("steps", 1)),
        "warmup": number("warmup", 0),
        "repeat": number("repeat", 0),
        "repeats": int(number("repeats", 1)),
    }


def print_line(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def now_ms():
    return time.perf_counter() * 1000


def frame(payload, fd_count=0):
    return HEADER.pack(len(payload), fd_count, 0) + payload


class Repeats:
    """A warm-up, then `repeats` windows of `repeat` ms; `record` says whether to go on."""

    def __init__(self, options, keep_latencies=False):
        self.options = options
        self.keep_latencies = keep_latencies
        self.results = []
        self.window = -1
        self.ops = 0
        self.latencies = []
        self.start = now_ms()

    def record(self, ops):
        self.ops += ops
        now = now_ms()
        elapsed = now - self.start
        length = self.options["warmup"] if self.window < 0 else self.options["repeat"]
        if elapsed < length:
            return True
        if self.window >= 0:
            result = {"ops": self.ops, "ms": elapsed}
            if self.keep_latencies:
                ordered = sorted(self.latencies) or [0]
                at = lambda p: ordered[round(p * (len(ordered) - 1))]
                result.update(p50=at(0.5), p99=at(0.99))
            self.results.append(result)
        self.window += 1
        self.start = now
        self.ops = 0
        self.latencies = []
        return self.window < self.options["repeats"]


class FrameReader:
    """Frames of one STREAM connection: a receive buffer and the FIFO of received descriptors."""

    # One read buffer for every connection (one thread; bytes are copied out at once):
    # recv(n) would allocate n bytes per call instead (an mmap for 256 KiB).
    scratch = memoryview(bytearray(RECEIVE_BYTES))

    def __init__(self, sock, with_fds=False):
        self.sock = sock
        self.with_fds = with_fds
        self.buffer = bytearray()
        self.fifo = []

    def fill(self):
        """One read; how many bytes (0 at end of stream). Raises BlockingIOError when none."""
        if self.with_fds:
            # A read stops where the next message's descriptors start: one message's bytes at most.
            data, fds, _flags, _address = socket.recv_fds(self.sock, 4096, MAX_FDS)
            self.fifo.extend(fds)
            self.buffer += data
            return len(data)
        n = self.sock.recv_into(self.scratch)
        self.buffer += self.scratch[:n]
        return n

    def frames(self):
        """Every complete frame buffered: (payload bytes, descriptors)."""
        out = []
        buffer = self.buffer
        offset = 0
        while len(buffer) - offset >= HEADER_BYTES:
            length, count, _ = HEADER.unpack_from(buffer, offset)
            end = offset + HEADER_BYTES + length
            if end > len(buffer):
                break
            fds = self.fifo[:count]
            del self.fifo[:count]
            out.append((bytes(buffer[offset + HEADER_BYTES:end]), fds))
            offset = end
        if offset:
            del buffer[:offset]
        return out

    def next_frame(self):
        """The next frame (blocking socket), or None at end of stream."""
        while True:
            frames = self.frames()
            if frames:
                if len(frames) > 1:  # put back what was parsed ahead (rare: one request in flight)
                    self.buffer[:0] = b"".join(frame(p, len(f)) for p, f in frames[1:])
                    self.fifo[:0] = [fd for _, fds in frames[1:] for fd in fds]
                return frames[0]
            if self.fill() == 0:
                return None


def send_frame_with_fds(sock, payload, fds):
    """The descriptors go with the frame's first byte; the rest of a partial write without them."""
    data = frame(payload, len(fds))
    sent = socket.send_fds(sock, [data], fds) if fds else sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def listen(options):
    kind = socket.SOCK_SEQPACKET if options["seqpacket"] else socket.SOCK_STREAM
    listener = socket.socket(socket.AF_UNIX, kind)
    listener.bind(options["address"])
    listener.listen(4096)
    return listener


def connect(options, seqpacket=False):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if seqpacket else socket.SOCK_STREAM)
    sock.connect(options["address"])
    return sock


# ------------------------------------------------------------------------------------------
# Servers


def serve_one(options, conn):
    """latency (echo), throughput and fds (count, close descriptors, acknowledge every batch)."""
    if options["workload"] == "latency" and options["seqpacket"]:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)
    reader = FrameReader(conn, with_fds=options["workload"] == "fds")
    ack = frame(b"k")
    received = 0
    batch = options["batch"]
    echo = options["workload"] == "latency"
    while reader.fill() > 0:
        for payload, fds in reader.frames():
            if echo:
                conn.sendall(frame(payload))
                continue
            for fd in fds:
                os.close(fd)
            received += 1
            if received % batch == 0:
                conn.sendall(ack)


def serve_accept(listener):
    """Accept, check the peer's uid (SO_PEERCRED), close: authorized or not, nothing is read."""
    euid = os.geteuid()
    credentials = struct.Struct("3i")
    authorized = 0
    while True:
        conn, _ = listener.accept()
        _pid, uid, _gid = credentials.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, credentials.size))
        if uid == euid or euid == 0:
            authorized += 1
        conn.close()


def serve_many(options, listener):
    """concurrent (echo every frame), idle and messages (count; answer measurement requests)."""
    echo = options["workload"] == "concurrent"
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    readers = {}
    accepted = 0
    messages = 0
    pending = None  # (connection, connections wanted, messages wanted)
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            if sock is listener:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ)
                    accepted += 1
                continue
            reader = readers.get(sock)
            if reader is None:  # made at the first byte: an idle connection costs no buffer
                reader = readers[sock] = FrameReader(sock)
            try:
                received = reader.fill()
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:
                received = 0
            if received == 0:
                selector.unregister(sock)
                readers.pop(sock, None)
                sock.close()
                continue
            for payload, _ in reader.frames():
                if payload[:1] == b"M":
                    wanted = dict(part.split("=") for part in payload.decode().split()[1:])
                    pending = (sock, int(wanted["c"]), int(wanted["m"]))
                elif echo:
                    sock.sendall(frame(payload))  # one request in flight: never blocks
                else:
                    messages += 1
        if pending is not None and accepted >= pending[1] and messages >= pending[2]:
            gc.collect()  # what is left is what the server holds on to; the runner measures it
            pending[0].sendall(frame(b"measured"))
            pending = None


def server(options):
    listener = listen(options)
    print_line({"ready": True})
    workload = options["workload"]
    if workload == "accept":
        serve_accept(listener)
    elif workload in ("concurrent", "idle", "messages"):
        serve_many(options, listener)
    else:
        while True:
            conn, _ = listener.accept()
            try:
                serve_one(options, conn)
            except ConnectionError:
                pass  # the client is gone at the end of its run
            conn.close()


# ------------------------------------------------------------------------------------------
# Clients


def latency_client(options):
    sock = connect(options, options["seqpacket"])
    payload = bytes(options["size"])
    repeats = Repeats(options)
    if options["seqpacket"]:
        while True:
            sock.sendall(payload)
            sock.recv(65536)
            if not repeats.record(1):
                return repeats.results
    request = frame(payload)
    reader = FrameReader(sock)
    while True:
        sock.sendall(request)
        reader.next_frame()
        if not repeats.record(1):
            return repeats.results


def batch_client(options):
    """throughput and fds: `batch` messages, then the server's acknowledgement."""
    sock = connect(options)
    payload = bytes(options["size"])
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(options["fds"])] if options["workload"] == "fds" else []
    request = frame(payload)
    reader = FrameReader(sock)
    batch = options["batch"]
    repeats = Repeats(options)
    while True:
        for _ in range(batch):
            if fds:
                send_frame_with_fds(sock, payload, fds)
            else:
                sock.sendall(request)
        reader.next_frame()
        if not repeats.record(batch):
            return repeats.results


def accept_client(options):
    """`window` connections in flight; each is done when the server has closed it."""
    selector = selectors.DefaultSelector()
    in_flight = 0
    repeats = Repeats(options)
    while True:
        while in_flight < options["window"]:
            selector.register(connect(options), selectors.EVENT_READ)
            in_flight += 1
        events = selector.select()
        for key, _ in events:
            selector.unregister(key.fileobj)
            key.fileobj.close()
        in_flight -= len(events)
        if not repeats.record(len(events)):
            return repeats.results


def concurrent_client(options):
    """`conns` connections, each with one request in flight, sent round robin at the start."""
    selector = selectors.DefaultSelector()
    request = frame(bytes(options["size"]))
    socks = []
    for _ in range(options["conns"]):
        sock = connect(options)
        sock.setblocking(False)
        socks.append(sock)
    readers = {sock: FrameReader(sock) for sock in socks}
    sent_at = {}
    repeats = Repeats(options, keep_latencies=True)
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
        sent_at[sock] = now_ms()
        sock.sendall(request)
    while True:
        done = 0
        for key, _ in selector.select():
            sock = key.fileobj
            reader = readers[sock]
            if reader.fill() == 0:
                raise ConnectionError("the server closed a connection")
            for _ in reader.frames():
                now = now_ms()
                repeats.latencies.append((now - sent_at[sock]) * 1000)
                done += 1
                sent_at[sock] = now
                sock.sendall(request)
        if not repeats.record(done):
            return repeats.results


def memory_client(options):
    control = connect(options)
    reader = FrameReader(control)

    def measure(conns, messages, at):
        """Once the server has it all and is quiescent, the runner reads /proc/<server pid>."""
        control.sendall(frame(f"M c={conns} m={messages}".encode()))
        reader.next_frame()
        print_line({"sample": at})
        sys.stdin.readline()

    if options["workload"] == "idle":
        measure(1, 0, 0)
        idle = []
        for step in range(1, options["steps"] + 1):
            target = options["conns"] * step // options["steps"]
            while len(idle) < target:
                idle.append(connect(options))
            measure(1 + len(idle), 0, len(idle))
    else:
        data = connect(options)
        request = frame(bytes(options["size"]))
        measure(2, 0, 0)
        sent = 0
        for step in range(1, options["steps"] + 1):
            target = options["count"] * step // options["steps"]
            while sent < target:
                data.sendall(request)
                sent += 1
            measure(2, sent, sent)


def client(options):
    print_line({"ready": True})
    sys.stdin.readline()  # the runner's "go": the server is ready
    workload = options["workload"]
    if workload in ("idle", "messages"):
        memory_client(options)
        print_line({"done": True})
        return
    run = {
        "latency": latency_client,
        "throughput": batch_client,
        "fds": batch_client,
        "accept": accept_client,
        "concurrent": concurrent_client,
    }[workload]
    print_line({"repeats": run(options)})


if __name__ == "__main__":
    opts = parse_options(sys.argv[1:])
    (server if opts["role"] == "server" else client)(opts)
