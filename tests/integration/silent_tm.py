#!/usr/bin/env python3
"""A fake taskmanager for the integration tests: it registers at a
jobmanager with an RPC address that accepts TCP connections and never
answers (no SP handshake, no byte ever written), keeps heartbeating, and
registers again whenever the jobmanager forgets it.

    silent_tm.py JM_PORT TM_ID [SLOTS]

Prints "silent taskmanager TM_ID listening on PORT" once it listens, then
"registered" after every accepted registration (stdout, flushed). Runs until
killed. The wire forms are written out by hand (nng's SP over TCP:
an 8-byte header, then frames of a 64-bit big-endian length; req0 bodies
start with a 32-bit request id with its high bit set; protobuf fields of
proto/sluice.proto), so the test needs no protobuf module.
"""
import os
import socket
import struct
import sys
import threading
import time

SP_REQ0 = b"\x00SP\x00\x00\x30\x00\x00"  # protocol 48 = req0
MAX_REPLY = 1 << 20                     # longest reply frame read
HEARTBEAT_S = 0.5


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, n):
    return varint(num << 3 | 0) + varint(n)


# RegisterTm.session_token (8): every later request carries it as
# Request.session_token (31), as a real taskmanager's do.
TOKEN = os.urandom(32)


def register_body(tm_id, port, slots):
    r = (field_bytes(1, tm_id.encode()) + field_bytes(2, b"127.0.0.1") +
         field_varint(3, port) + field_varint(4, port) + field_varint(5, os.getpid()) +
         field_varint(6, slots) + field_bytes(8, TOKEN))
    return field_bytes(1, r)  # Request.register_tm


def heartbeat_body(tm_id):
    return field_bytes(2, field_bytes(1, tm_id.encode())) + field_bytes(31, TOKEN)


def read_varint(buf, i):
    n = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def reply_fields(buf):
    """The varint fields of a Reply (status = 1, known = 7) as a dict."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        kind = key & 7
        if kind == 0:
            out[key >> 3], i = read_varint(buf, i)
        elif kind == 2:
            n, i = read_varint(buf, i)
            i += n
        else:
            raise ValueError("unexpected wire type %d" % kind)
    return out


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the jobmanager closed the connection")
        data += chunk
    return data


class JmClient:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.sendall(SP_REQ0)
        recv_exact(self.s, 8)  # the rep0 header
        self.req_id = 0x80000000

    def call(self, body):
        self.req_id = 0x80000000 | ((self.req_id + 1) & 0x7FFFFFFF)
        frame = struct.pack(">I", self.req_id) + body
        self.s.sendall(struct.pack(">Q", len(frame)) + frame)
        while True:
            (n,) = struct.unpack(">Q", recv_exact(self.s, 8))
            if n < 4 or n > MAX_REPLY:
                raise ValueError("reply frame of %d bytes" % n)
            data = recv_exact(self.s, n)
            if struct.unpack(">I", data[:4])[0] == self.req_id:
                return reply_fields(data[4:])


def hold_connections(srv, held):
    while True:
        conn, _ = srv.accept()
        held.append(conn)  # never read, never written, never closed


def main():
    jm_port, tm_id = int(sys.argv[1]), sys.argv[2]
    slots = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port = srv.getsockname()[1]
    held = []
    threading.Thread(target=hold_connections, args=(srv, held), daemon=True).start()
    print("silent taskmanager %s listening on %d" % (tm_id, port), flush=True)
    jm = JmClient(jm_port)
    registered = False
    while True:
        if not registered:
            r = jm.call(register_body(tm_id, port, slots))
            registered = r.get(1, 0) == 0
            if registered:
                print("registered", flush=True)
        else:
            r = jm.call(heartbeat_body(tm_id))
            registered = r.get(1, 0) == 0 and r.get(7, 0) == 1
        time.sleep(HEARTBEAT_S)


if __name__ == "__main__":
    main()
