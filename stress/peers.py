#!/usr/bin/env python3
"""Light peers for the stress scenarios, where starting a Node.js process per peer is too slow.

Run as ``python3 stress/peers.py <role> [args...]``. Standard library only. Speaks the
stress line protocol (stress/control.ts): one JSON object per stdout line, ``{"ready": ...}``
once, ``{"event": ...}`` as it goes; it exits when its stdin closes.

Roles:
  kill-mid-frame <address> <count>
      Forks <count> children, one after the other. Each connects, writes part of a frame
      (part of a header; a header and part of its payload; or that with a descriptor
      attached) and SIGKILLs itself. After each death the parent sends a frame on its own
      long-lived connection and waits for the echo: the server must still serve others.
  vanishing-reader <address>
      Listens. Each accepted connection is handed to a forked child that reads 64 KiB,
      waits until the sender is blocked on a full buffer, and then vanishes: by SIGKILL on
      even connections, by close() on odd ones. The parent keeps no copy of the socket.

An address is a filesystem path, or ``@name`` for the Linux abstract namespace.
"""

import array
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

HEADER = struct.Struct(">IHH")  # payload length, descriptor count, reserved


def say(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def parse_address(text):
    return "\0" + text[1:] if text.startswith("@") else text


def wait_for_stdin_to_close():
    while sys.stdin.buffer.read(4096):
        pass


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
    return data


def read_frame(sock):
    length, _fds, _reserved = HEADER.unpack(read_exactly(sock, HEADER.size))
    return read_exactly(sock, length)


# --- kill-mid-frame ------------------------------------------------------------


def victim(address, n, devnull):
    """Connects, writes part of frame number n, and dies by SIGKILL."""
    rng = random.Random(n)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address)
    payload = bytes(rng.randrange(256) for _ in range(rng.randrange(2, 200)))
    variant = n % 3
    if variant == 0:
        sock.sendall(HEADER.pack(len(payload), 0, 0)[:rng.randrange(1, HEADER.size)])
    elif variant == 1:
        sock.sendall(HEADER.pack(len(payload), 0, 0) + payload[:rng.randrange(0, len(payload))])
    else:
        # The descriptor goes with the frame's first byte, so the server holds it in its FIFO
        # when the peer dies: it must be closed with the connection.
        data = HEADER.pack(len(payload), 1, 0) + payload[:rng.randrange(0, len(payload))]
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [devnull]).tobytes())])
    os.kill(os.getpid(), signal.SIGKILL)


def role_kill_mid_frame(address, count):
    address = parse_address(address)
    count = int(count)
    keeper = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    keeper.connect(address)
    keeper.settimeout(5)
    devnull = os.open("/dev/null", os.O_RDONLY)
    say({"ready": {"pid": os.getpid()}})
    start = time.monotonic()
    killed = not_killed = echoed = echo_failures = 0
    slowest_echo = 0.0
    first_failure = None
    for n in range(count):
        pid = os.fork()
        if pid == 0:
            try:
                keeper.close()  # the child must not hold the parent's connection
                victim(address, n, devnull)
            finally:
                os._exit(3)  # reached only if the victim could not kill itself
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            killed += 1
        else:
            not_killed += 1
        payload = b"still there after %d" % n
        sent_at = time.monotonic()
        try:
            keeper.sendall(HEADER.pack(len(payload), 0, 0) + payload)
            reply = read_frame(keeper)
            if reply == payload:
                echoed += 1
            else:
                echo_failures += 1
                first_failure = first_failure or "echo %r for %r" % (reply[:40], payload)
        except (OSError, EOFError) as error:
            echo_failures += 1
            first_failure = first_failure or "echo after kill %d: %s" % (n, error)
            break
        slowest_echo = max(slowest_echo, time.monotonic() - sent_at)
        if (n + 1) % 250 == 0:
            say({"event": "progress", "killed": killed})
    say({
        "event": "done",
        "killed": killed,
        "notKilled": not_killed,
        "echoed": echoed,
        "echoFailures": echo_failures,
        "firstFailure": first_failure,
        "slowestEchoMs": round(slowest_echo * 1000, 1),
        "seconds": round(time.monotonic() - start, 2),
    })
    wait_for_stdin_to_close()


# --- vanishing-reader ----------------------------------------------------------


def vanish(conn, n):
    """Reads 64 KiB, waits until the sender stops (its buffer is full), then goes away."""
    received = 0
    while received < 64 * 1024:
        chunk = conn.recv(64 * 1024 - received)
        if not chunk:
            return
        received += len(chunk)
    # The sender has more than the socket buffers hold and we stopped reading: within a few
    # milliseconds its send is waiting for room that will never come.
    time.sleep(0.02)
    if n % 2 == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    conn.close()


def role_vanishing_reader(address):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(parse_address(address))
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    say({"ready": {"pid": os.getpid()}})
    n = 0
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable and not sys.stdin.buffer.read1(4096):
            return
        if listener not in readable:
            continue
        conn, _ = listener.accept()
        pid = os.fork()
        if pid == 0:
            try:
                listener.close()
                vanish(conn, n)
            finally:
                os._exit(0)
        conn.close()  # the child holds the only copy: when it goes, the reading side is gone
        n += 1


def main(argv):
    roles = {"kill-mid-frame": role_kill_mid_frame, "vanishing-reader": role_vanishing_reader}
    if len(argv) < 2 or argv[1] not in roles:
        sys.stderr.write("usage: peers.py kill-mid-frame <address> <count> | vanishing-reader <address>\n")
        return 2
    roles[argv[1]](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
