#!/usr/bin/env python3
"""Interop peer for the SDK's tests (not part of the SDK).

Run as ``python3 test/interop/peer.py <role> [args...]``. Standard library only.

Roles:
  server <stream|seqpacket> <address>
  client <stream|seqpacket> <address> [--creds pid,uid,gid]
  dgram-server <address>
  dgram-client <server address> <own address or "">
  framed-server <address>
  framed-client <address> <count>

An address is a filesystem path, or ``@name`` for the Linux abstract namespace.
Every line printed on stdout is flushed at once; failures are reported on
stderr with a non-zero exit status, and the program gives up with status 4
after 20 seconds.
"""

import array
import collections
import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys

TIMEOUT_SECONDS = 20
TIMEOUT_STATUS = 4
MAX_FDS = 253
RECV_SIZE = 64 * 1024
INT_SIZE = array.array("i").itemsize
UCRED = struct.Struct("iII")  # struct ucred: pid_t pid; uid_t uid; gid_t gid
CONTROL_SIZE = socket.CMSG_SPACE(MAX_FDS * INT_SIZE) + socket.CMSG_SPACE(UCRED.size)
OWN_TEXT = b"from python"
OWN_PIPE_CONTENT = b"python pipe content"
HEADER = struct.Struct(">IHH")  # payload length, descriptor count, reserved
SPLICE_F_NONBLOCK = 0x02

_cleanup_paths = []  # (path, st_dev, st_ino) of socket files this process created


class Failure(Exception):
    """A failure that ends the program with a diagnostic and status 1."""


# --- output -----------------------------------------------------------------


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def json_text(raw):
    """Bytes decoded as UTF-8 (invalid sequences replaced), as a JSON string."""
    return json.dumps(bytes(raw).decode("utf-8", "replace"), ensure_ascii=False)


def json_list(items):
    """A list of byte strings as a compact JSON array of strings."""
    return json.dumps([bytes(i).decode("utf-8", "replace") for i in items],
                      ensure_ascii=False, separators=(",", ":"))


def format_creds(creds):
    if creds is None:
        return "none"
    return "%d,%d,%d" % creds


# --- addresses ---------------------------------------------------------------


def parse_address(text):
    """``@name`` -> abstract address (bytes with a leading NUL), else a path."""
    if text.startswith("@"):
        return b"\0" + os.fsencode(text[1:])
    return text


def address_bytes(addr):
    """An address as returned by the socket module, in printable form."""
    if addr is None:
        return b""
    if isinstance(addr, str):
        addr = os.fsencode(addr)
    if addr.startswith(b"\0"):
        return b"@" + addr[1:]
    return addr


def is_path(addr):
    return isinstance(addr, str) and addr != ""


def remove_stale_socket(addr):
    """Unlink a socket file left behind at a path address."""
    if not is_path(addr):
        return
    try:
        st = os.lstat(addr)
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(st.st_mode):
        os.unlink(addr)


def remember_socket_file(addr):
    if is_path(addr):
        st = os.lstat(addr)
        _cleanup_paths.append((addr, st.st_dev, st.st_ino))


def cleanup():
    while _cleanup_paths:
        path, dev, ino = _cleanup_paths.pop()
        try:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == (dev, ino):
                os.unlink(path)
        except OSError:
            pass


# --- descriptors -------------------------------------------------------------


def fd_kind(fd):
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def readable(fd):
    return (fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE) != os.O_WRONLY


def read_all(fd):
    """Everything readable from fd until end of file (waits if it is non-blocking)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, RECV_SIZE)
        except BlockingIOError:
            select.select([fd], [], [])
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def pread_all(fd):
    """A regular file's content from the current offset, leaving the offset alone."""
    offset = os.lseek(fd, 0, os.SEEK_CUR)
    chunks = []
    while True:
        chunk = os.pread(fd, RECV_SIZE, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


_libc = None


def peek_pipe(fd):
    """The data buffered in a pipe, duplicated with tee(2) so it stays in the pipe."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
        _libc.tee.restype = ctypes.c_ssize_t
    scratch_r, scratch_w = os.pipe()
    try:
        n = _libc.tee(fd, scratch_w, 1 << 20, SPLICE_F_NONBLOCK)
        if n < 0:
            err = ctypes.get_errno()
            if err != errno.EAGAIN:  # EAGAIN: empty while a writer is still open
                raise OSError(err, "tee: " + os.strerror(err))
        os.close(scratch_w)
        scratch_w = -1
        return read_all(scratch_r)
    finally:
        os.close(scratch_r)
        if scratch_w >= 0:
            os.close(scratch_w)


def fd_content(fd, kind, keep):
    """Content of a received descriptor; keep=True reads without consuming it."""
    if kind not in ("file", "fifo") or not readable(fd):
        return b""
    if not keep:
        return read_all(fd)
    return pread_all(fd) if kind == "file" else peek_pipe(fd)


def close_all(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def make_pipe(content):
    """The read end of a fresh pipe holding content, its write end closed."""
    r, w = os.pipe()
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(w, view):]
    finally:
        os.close(w)
    return r


def rights(fds):
    return (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())


# --- messages ----------------------------------------------------------------


def set_passcred(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)


def print_peer(sock):
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size)
    out("peer pid=%d uid=%d gid=%d" % UCRED.unpack(raw))


def print_bound(sock):
    out("bound " + json_text(address_bytes(sock.getsockname())))


class Received:
    def __init__(self, data, fds, creds, addr, eof):
        self.data = data
        self.fds = fds
        self.creds = creds
        self.addr = addr
        self.eof = eof


def receive(sock):
    """One recvmsg. eof is set for a connection's end of stream."""
    data, ancillary, flags, addr = sock.recvmsg(RECV_SIZE, CONTROL_SIZE, socket.MSG_CMSG_CLOEXEC)
    fds = []
    creds = None
    for level, kind, payload in ancillary:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[:len(payload) - len(payload) % INT_SIZE])
            fds.extend(received)
        elif kind == socket.SCM_CREDENTIALS and len(payload) >= UCRED.size:
            creds = UCRED.unpack(payload[:UCRED.size])
    if flags & socket.MSG_CTRUNC:
        close_all(fds)
        raise Failure("control data truncated (MSG_CTRUNC)")
    if flags & socket.MSG_TRUNC:
        close_all(fds)
        raise Failure("message truncated (MSG_TRUNC)")
    # End of a connection: a stream returns no bytes (with SO_PASSCRED the kernel
    # may still attach empty credentials); on SEQPACKET an empty message would
    # carry credentials, the end carries none.
    if sock.type == socket.SOCK_STREAM:
        eof = not data and not fds
    else:
        eof = sock.type == socket.SOCK_SEQPACKET and not data and not ancillary
    return Received(data, fds, creds, addr, eof)


def receive_one(sock):
    msg = receive(sock)
    if msg.eof:
        raise Failure("the peer closed the connection before sending a message")
    return msg


def print_message(msg, with_from=False):
    line = "received text=%s fds=%d creds=%s" % (json_text(msg.data), len(msg.fds), format_creds(msg.creds))
    if with_from:
        line += " from=" + json_text(address_bytes(msg.addr))
    out(line)
    try:
        for i, fd in enumerate(msg.fds):
            kind = fd_kind(fd)
            out("fd %d %s content=%s" % (i, kind, json_text(fd_content(fd, kind, keep=False))))
    finally:
        close_all(msg.fds)


def send_own(sock, address=None, creds=None):
    """Sends "from python" with the read end of a pipe holding "python pipe content"."""
    fd = make_pipe(OWN_PIPE_CONTENT)
    try:
        if address is None and creds is None:
            sent = socket.send_fds(sock, [OWN_TEXT], [fd])
        else:
            ancillary = [rights([fd])]
            if creds is not None:
                ancillary.append((socket.SOL_SOCKET, socket.SCM_CREDENTIALS, UCRED.pack(*creds)))
            if address is None:
                sent = sock.sendmsg([OWN_TEXT], ancillary)
            else:
                sent = sock.sendmsg([OWN_TEXT], ancillary, 0, address)
    finally:
        os.close(fd)
    if sent != len(OWN_TEXT):
        raise Failure("short send: %d of %d bytes" % (sent, len(OWN_TEXT)))


def wait_eof(sock):
    """Reads (and discards) until the peer closes its side."""
    while True:
        msg = receive(sock)
        close_all(msg.fds)
        if msg.eof:
            return


def socket_type(name):
    types = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET}
    if name not in types:
        raise Failure("socket type must be stream or seqpacket, not %r" % name)
    return types[name]


def listen_on(kind, addr):
    remove_stale_socket(addr)
    lsock = socket.socket(socket.AF_UNIX, kind)
    lsock.bind(addr)
    remember_socket_file(addr)
    set_passcred(lsock)
    lsock.listen(10)
    out("listening")
    return lsock


def accept_one(lsock):
    conn, _ = lsock.accept()
    lsock.close()
    print_peer(conn)
    set_passcred(conn)
    return conn


# --- stream and seqpacket roles -----------------------------------------------


def role_server(args):
    if len(args) != 2:
        raise Failure("usage: server <stream|seqpacket> <address>")
    lsock = listen_on(socket_type(args[0]), parse_address(args[1]))
    with accept_one(lsock) as conn:
        print_message(receive_one(conn))
        send_own(conn)
        out("sent")
        wait_eof(conn)
    return 0


def parse_creds(text):
    parts = text.split(",")
    if len(parts) != 3:
        raise Failure("--creds wants pid,uid,gid")
    return tuple(int(p) for p in parts)


def role_client(args):
    creds = None
    if len(args) == 4 and args[2] == "--creds":
        creds = parse_creds(args[3])
    elif len(args) != 2:
        raise Failure("usage: client <stream|seqpacket> <address> [--creds pid,uid,gid]")
    with socket.socket(socket.AF_UNIX, socket_type(args[0])) as sock:
        sock.connect(parse_address(args[1]))
        print_peer(sock)
        set_passcred(sock)
        try:
            send_own(sock, creds=creds)
        except OSError as e:
            if creds is None:
                raise
            out("send failed " + errno.errorcode.get(e.errno, str(e.errno)))
            return 0
        out("sent")
        print_message(receive_one(sock))
    return 0


# --- datagram roles -------------------------------------------------------------


def bind_dgram(addr):
    remove_stale_socket(addr)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(addr)  # "" asks the kernel for an abstract name (autobind)
    remember_socket_file(addr)
    set_passcred(sock)
    print_bound(sock)
    return sock


def role_dgram_server(args):
    if len(args) != 1 or not args[0]:
        raise Failure("usage: dgram-server <address>")
    with bind_dgram(parse_address(args[0])) as sock:
        msg = receive(sock)
        print_message(msg, with_from=True)
        if address_bytes(msg.addr) == b"":
            out("sender unnamed")
        else:
            send_own(sock, address=msg.addr)
            out("sent")
    return 0


def role_dgram_client(args):
    if len(args) != 2 or not args[0]:
        raise Failure('usage: dgram-client <server address> <own address or "">')
    with bind_dgram(parse_address(args[1])) as sock:
        send_own(sock, address=parse_address(args[0]))
        out("sent")
        print_message(receive(sock), with_from=True)
    return 0


# --- framed stream roles --------------------------------------------------------


class ProtocolError(Failure):
    pass


class FrameReader:
    """Splits a byte stream into frames; descriptors wait in one FIFO."""

    def __init__(self):
        self.buffer = bytearray()
        self.start = 0
        self.fifo = collections.deque()
        self.pending = None  # (payload length, descriptors) once a header is complete

    def feed(self, data, fds):
        self.buffer += data
        self.fifo.extend(fds)
        frames = []
        while True:
            available = len(self.buffer) - self.start
            if self.pending is None:
                if available < HEADER.size:
                    break
                length, count, reserved = HEADER.unpack_from(self.buffer, self.start)
                if reserved != 0:
                    raise ProtocolError("reserved header field is %d, not 0" % reserved)
                if count > MAX_FDS:
                    raise ProtocolError("frame announces %d descriptors (at most %d)" % (count, MAX_FDS))
                if count > len(self.fifo):
                    raise ProtocolError("frame announces %d descriptors, only %d received" % (count, len(self.fifo)))
                self.pending = (length, [self.fifo.popleft() for _ in range(count)])
                self.start += HEADER.size
                continue
            length, frame_fds = self.pending
            if available < length:
                break
            payload = bytes(self.buffer[self.start:self.start + length])
            self.start += length
            self.pending = None
            frames.append((payload, frame_fds))
        if self.start > RECV_SIZE:
            del self.buffer[:self.start]
            self.start = 0
        return frames

    def partial(self):
        return self.pending is not None or len(self.buffer) > self.start

    def release(self):
        if self.pending is not None:
            close_all(self.pending[1])
            self.pending = None
        close_all(self.fifo)
        self.fifo.clear()


def encode_frame(payload, count):
    return HEADER.pack(len(payload), count, 0) + payload


class Chunk:
    """Bytes to write with one sendmsg; fds go with its first byte, then are closed."""

    def __init__(self, data, fds):
        self.data = memoryview(data)
        self.fds = fds


def send_some(sock, queue):
    """Writes queued chunks until the socket would block; True once the queue is empty."""
    while queue:
        chunk = queue[0]
        try:
            if chunk.fds:
                n = sock.sendmsg([chunk.data], [rights(chunk.fds)])
            else:
                n = sock.send(chunk.data)
        except BlockingIOError:
            return False
        if chunk.fds:
            close_all(chunk.fds)  # sent with the first byte; the rest goes without
            chunk.fds = []
        chunk.data = chunk.data[n:]
        if not chunk.data:
            queue.popleft()
    return True


def frame_report(payload, fds):
    contents = [fd_content(fd, fd_kind(fd), keep=True) for fd in fds]
    return "frame text=%s fds=%s" % (json_text(payload), json_list(contents))


def role_framed_server(args):
    if len(args) != 1:
        raise Failure("usage: framed-server <address>")
    lsock = listen_on(socket.SOCK_STREAM, parse_address(args[0]))
    conn = accept_one(lsock)
    conn.setblocking(False)
    reader = FrameReader()
    queue = collections.deque()
    poller = select.poll()
    frames = 0
    eof = False
    try:
        while not eof or queue:
            events = (0 if eof else select.POLLIN) | (select.POLLOUT if queue else 0)
            poller.register(conn, events)
            ready = dict(poller.poll())
            revents = ready.get(conn.fileno(), 0)
            if not eof and revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    msg = receive(conn)
                except BlockingIOError:
                    msg = None
                if msg is not None:
                    if msg.eof:
                        eof = True
                    for payload, fds in reader.feed(msg.data, msg.fds):
                        frames += 1
                        out(frame_report(payload, fds))
                        queue.append(Chunk(encode_frame(payload, len(fds)), fds))
            if queue and revents & (select.POLLOUT | select.POLLHUP | select.POLLERR):
                send_some(conn, queue)
        if reader.fifo:
            out("stray fds %d" % len(reader.fifo))
            return 1
        if reader.partial():
            raise ProtocolError("end of stream inside a frame")
        out("frames %d" % frames)
        return 0
    finally:
        reader.release()
        for chunk in queue:
            close_all(chunk.fds)
        conn.close()


def client_frame(i):
    payload = b"py frame %d" % i
    fds = [make_pipe(b"py frame %d fd %d" % (i, j)) for j in range(i % 4)]
    return encode_frame(payload, len(fds)), fds


def client_chunks(count):
    """The frames 0..count-1 cut into sendmsg chunks, mixing the ways a sender may write."""
    i = 0
    step = 0
    while i < count:
        way = step % 4
        step += 1
        left = count - i
        if way == 1 and left >= 2:
            # Several whole frames glued into one sendmsg.
            glued = min(2 + step % 3, left)
            data = bytearray()
            fds = []
            for k in range(glued):
                frame, frame_fds = client_frame(i + k)
                data += frame
                fds += frame_fds
            yield Chunk(bytes(data), fds)
            i += glued
        elif way == 2 or (way == 3 and left < 2):
            # Header split across two sendmsgs; descriptors with the first part.
            frame, fds = client_frame(i)
            cut = 1 + i % 7
            yield Chunk(frame[:cut], fds)
            yield Chunk(frame[cut:], [])
            i += 1
        elif way == 3:
            # Split header, and the next frame glued after the second part.
            frame, fds = client_frame(i)
            following, following_fds = client_frame(i + 1)
            cut = 1 + i % 7
            yield Chunk(frame[:cut], fds)
            yield Chunk(frame[cut:] + following, following_fds)
            i += 2
        else:
            # One frame alone in one sendmsg.
            frame, fds = client_frame(i)
            yield Chunk(frame, fds)
            i += 1


def check_echo(i, count, payload, fds):
    try:
        if i >= count:
            raise Failure("echo %d received, only %d frames were sent" % (i, count))
        if payload != b"py frame %d" % i:
            raise Failure("echo %d: payload %r, expected %r" % (i, payload, b"py frame %d" % i))
        if len(fds) != i % 4:
            raise Failure("echo %d: %d descriptors, expected %d" % (i, len(fds), i % 4))
        for j, fd in enumerate(fds):
            content = read_all(fd)
            expected = b"py frame %d fd %d" % (i, j)
            if content != expected:
                raise Failure("echo %d descriptor %d: content %r, expected %r" % (i, j, content, expected))
    finally:
        close_all(fds)


def role_framed_client(args):
    if len(args) != 2:
        raise Failure("usage: framed-client <address> <count>")
    count = int(args[1])
    if count < 0:
        raise Failure("count must not be negative")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    reader = FrameReader()
    queue = collections.deque()
    try:
        sock.connect(parse_address(args[0]))
        print_peer(sock)
        set_passcred(sock)
        sock.setblocking(False)
        chunks = client_chunks(count)
        more = True
        echoed = 0
        poller = select.poll()
        # Write and read at the same time, so neither side's buffers can fill up for good.
        while echoed < count:
            if not queue and more:
                chunk = next(chunks, None)
                if chunk is None:
                    more = False
                else:
                    queue.append(chunk)
            poller.register(sock, select.POLLIN | (select.POLLOUT if queue else 0))
            revents = dict(poller.poll()).get(sock.fileno(), 0)
            if revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    msg = receive(sock)
                except BlockingIOError:
                    msg = None
                if msg is not None:
                    if msg.eof:
                        raise Failure("end of stream after %d of %d echoes" % (echoed, count))
                    for payload, fds in reader.feed(msg.data, msg.fds):
                        check_echo(echoed, count, payload, fds)
                        echoed += 1
            if queue and revents & (select.POLLOUT | select.POLLHUP | select.POLLERR):
                send_some(sock, queue)
        if queue or next(chunks, None) is not None:
            raise Failure("all echoes arrived before all frames were sent")
        sock.setblocking(True)
        sock.shutdown(socket.SHUT_WR)
        while True:
            msg = receive(sock)
            if msg.eof:
                break
            for payload, fds in reader.feed(msg.data, msg.fds):
                check_echo(echoed, count, payload, fds)
                echoed += 1
        if reader.fifo:
            raise Failure("%d descriptors belong to no echoed frame" % len(reader.fifo))
        if reader.partial():
            raise Failure("end of stream inside an echoed frame")
        out("framed ok %d" % count)
        return 0
    finally:
        reader.release()
        for chunk in queue:
            close_all(chunk.fds)
        sock.close()


# --- main -------------------------------------------------------------------------


ROLES = {
    "server": role_server,
    "client": role_client,
    "dgram-server": role_dgram_server,
    "dgram-client": role_dgram_client,
    "framed-server": role_framed_server,
    "framed-client": role_framed_client,
}


def on_alarm(signum, frame):
    sys.stderr.write("peer.py: gave up after %d seconds\n" % TIMEOUT_SECONDS)
    sys.stderr.flush()
    cleanup()
    os._exit(TIMEOUT_STATUS)


def main(argv):
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT_SECONDS)
    sys.stdout.reconfigure(encoding="utf-8")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if len(argv) < 2 or argv[1] not in ROLES:
        sys.stderr.write("usage: peer.py <%s> [args...]\n" % "|".join(ROLES))
        return 2
    role = argv[1]
    try:
        return ROLES[role](argv[2:])
    except (Failure, OSError, ValueError) as e:
        sys.stderr.write("peer.py %s: %s\n" % (role, e))
        return 1
    finally:
        cleanup()


if __name__ == "__main__":
    status = main(sys.argv)
    sys.stdout.flush()
    sys.exit(status)
