#!/usr/bin/env python3
"""A userspace link emulator for the several-hosts tests (hosts_lib.sh's
hl_impair, where the kernel has no sch_netem): forwards ethernet frames
between two interfaces A and B with AF_PACKET raw sockets, delaying every
frame by DELAY ms and dropping LOSS % of them independently, per direction,
in order per direction, with a bounded queue per direction.

    link_emu.py --loss PCT --delay MS [--limit FRAMES] [--seed N]
                [--stats FILE] A B

A is the host's switch-side veth (taken out of the bridge), B the free end
of a veth pair whose other end is on the bridge: the host's frames go
A -> B ("up"), the bridge's frames B -> A ("down"). Frames a socket sees
as PACKET_OUTGOING (our own sends) are never forwarded. The interfaces
must have their offloads off (no frames above the MTU, no partial
checksums): hl_impair runs ethtool -K first.

The stats FILE is rewritten (atomically) every STATS_PERIOD s and on
SIGTERM/SIGINT: one line per direction,
    <dir> rx <n> drop <n> overflow <n> fwd <n> err <n> qmax <n>
after a first line "ready <pid>" (written once both sockets are bound).
Python 3 standard library only.
"""

import argparse
import collections
import errno
import os
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
PACKET_IGNORE_OUTGOING = 23   # Linux >= 4.20; the pkttype check stays anyway
SOL_PACKET = 263
FRAME_MAX = 65536             # a recv buffer above any frame (offloads off: <= MTU + 14)
SOCK_BUF = 4 * 1024 * 1024    # kernel socket buffers, for bursts
RECV_BATCH = 256              # frames read from one socket per wake-up at most
STATS_PERIOD = 1.0            # s between stats file rewrites
DEFAULT_LIMIT = 10000         # frames queued per direction at most


class Direction:
    """Frames read from src, sent on dst after the delay."""

    def __init__(self, name, src, dst):
        self.name = name
        self.src = src
        self.dst = dst
        self.queue = collections.deque()   # (due, frame); due times only grow
        self.rx = self.drop = self.overflow = self.fwd = self.err = self.qmax = 0

    def stats(self):
        return "%s rx %d drop %d overflow %d fwd %d err %d qmax %d" % (
            self.name, self.rx, self.drop, self.overflow, self.fwd, self.err, self.qmax)


def open_socket(ifname):
    # Protocol 0 at creation (receives nothing), the real one at bind: no
    # frame of another interface is queued before the bind.
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        s.setsockopt(socket.SOL_SOCKET, opt, SOCK_BUF)
    try:
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def receive(d, args, rng, now):
    """Reads up to RECV_BATCH frames of d.src into d's queue."""
    for _ in range(RECV_BATCH):
        try:
            frame, addr = d.src.recvfrom(FRAME_MAX)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EINTR, errno.ENETDOWN):
                return
            raise
        if addr[2] == PACKET_OUTGOING:
            continue
        d.rx += 1
        if args.loss > 0 and rng.random() * 100.0 < args.loss:
            d.drop += 1
            continue
        if len(d.queue) >= args.limit:
            d.overflow += 1
            continue
        d.queue.append((now + args.delay / 1000.0, frame))
        if len(d.queue) > d.qmax:
            d.qmax = len(d.queue)


def send_due(d, now):
    """Sends the frames of d whose time has come, in order."""
    q = d.queue
    while q and q[0][0] <= now:
        frame = q.popleft()[1]
        try:
            d.dst.send(frame)
            d.fwd += 1
        except OSError:
            # ENOBUFS, EMSGSIZE, a link going away: the frame is lost, as on a wire.
            d.err += 1


def write_stats(path, dirs, first="ready %d" % os.getpid()):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(first + "\n")
        for d in dirs:
            f.write(d.stats() + "\n")
    os.replace(tmp, path)


def parse_args():
    p = argparse.ArgumentParser(description="delay and drop frames between two interfaces")
    p.add_argument("--loss", type=float, default=0.0, help="percent of frames dropped, per direction")
    p.add_argument("--delay", type=float, default=0.0, help="ms added to every frame, per direction")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="frames queued per direction at most")
    p.add_argument("--seed", type=int, default=None, help="seed of the loss draws")
    p.add_argument("--stats", default="", help="file the counters are written to")
    p.add_argument("a", help="interface A (the host's side)")
    p.add_argument("b", help="interface B (the bridge's side)")
    args = p.parse_args()
    if not (0.0 <= args.loss <= 100.0) or args.delay < 0 or args.limit < 1:
        p.error("need 0 <= loss <= 100, delay >= 0, limit >= 1")
    return args


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    sa, sb = open_socket(args.a), open_socket(args.b)
    dirs = [Direction("up", sa, sb), Direction("down", sb, sa)]
    by_fd = {sa.fileno(): dirs[0], sb.fileno(): dirs[1]}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    write_stats(args.stats, dirs)
    print("link_emu: %s <-> %s, loss %g%%, delay %g ms per direction, limit %d frames" %
          (args.a, args.b, args.loss, args.delay, args.limit), flush=True)
    next_stats = time.monotonic() + STATS_PERIOD
    while not stop:
        now = time.monotonic()
        due = min([d.queue[0][0] for d in dirs if d.queue] + [next_stats])
        timeout_ms = max(0, int((due - now) * 1000.0 + 0.999))
        try:
            events = poller.poll(timeout_ms)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd, ev in events:
            if ev & select.POLLNVAL:
                print("link_emu: socket of %s closed, exiting" % by_fd[fd].name, file=sys.stderr)
                stop.append(1)
            if ev & select.POLLERR:
                # An interface went down (hl_cut, hl_link): ENETDOWN, read to
                # clear it; the socket works again once the link is up.
                by_fd[fd].src.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                by_fd[fd].err += 1
            if ev & select.POLLIN:
                receive(by_fd[fd], args, rng, now)
        for d in dirs:
            send_due(d, now)
        if now >= next_stats:
            write_stats(args.stats, dirs)
            next_stats = now + STATS_PERIOD
    write_stats(args.stats, dirs, "stopped %d" % os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
