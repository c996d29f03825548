#!/usr/bin/env python3
"""A hostile hvsock-sessiond for the tests: a test-only peer that speaks
docs/session-protocol.md correctly at the frame level but answers a GET
with an archive that breaks the receiver's rules (extra top-level entries,
directories without -r, setuid bits, more bytes or entries than announced,
links, unknown record kinds), as a guest whose root replaced the daemon
could. It listens on a UNIX socket (the local transport's
$HVSOCK_RUNTIME_DIR/local/24149), serves one connection for each scenario
in the list, in order, then exits, and writes what each client asked for
to --log.

usage: hostile-sessiond.py --socket PATH --version N --scenarios A,B,...
                           [--victim PATH] [--log FILE] [--ready FILE]
"""
import argparse
import hashlib
import os
import socket
import struct
import sys
import time

HELLO, ERROR, STARTED, DATA, EOF, EXIT, GET = 1, 2, 4, 5, 6, 9, 12
STDOUT, STDERR, CONTROL = 1, 2, 3
SIZE_UNKNOWN = 2**64 - 1


def poly1305(key, data):
    """RFC 8439, section 2.5: the tag of data under a 32-byte one-time key."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:32], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(data), 16):
        block = data[i:i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, "little")


class Archive:
    """Builds an archive stream of one protocol version, record by record."""

    def __init__(self, version):
        self.v = version
        self.b = bytearray()

    def meta(self, kind, mode, name):
        n = name.encode()
        self.b += kind.encode() + struct.pack("<IqIH", mode, 1000000000, 0, len(n)) + n

    def total(self, n):
        self.b += b"T" + struct.pack("<Q", n)

    def file(self, name, data, mode=0o644, announce=None, send=None):
        """A file whose digest covers data; announce (version 3) is the size
        it claims, send what goes on the wire (default: data)."""
        send = data if send is None else send
        self.meta("F", mode, name)
        key = os.urandom(32)
        if self.v >= 2:
            self.b += key
        if self.v >= 3:
            self.b += struct.pack("<Q", len(send) if announce is None else announce)
        for i in range(0, len(send), 65532):
            chunk = send[i:i + 65532]
            self.b += struct.pack("<I", len(chunk)) + chunk
        digest = hashlib.sha256(send).digest() if self.v == 1 else poly1305(key, send)
        self.b += struct.pack("<IQ", 0, len(send)) + digest

    def dir(self, name, count, mode=0o755):
        self.meta("D", mode, name)
        if self.v >= 3:
            self.b += struct.pack("<I", count)

    def link(self, name, target):
        self.meta("L", 0o777, name)
        t = target.encode()
        self.b += struct.pack("<H", len(t)) + t

    def up(self):
        self.b += b"U"

    def end(self):
        self.b += b"E"

    def raw(self, data):
        self.b += data


def scenario(name, v, victim):
    """The archive for one scenario. The client always asks for one source
    named report.txt (a directory source with -r is also named report.txt).
    "silent" is extra-top followed by nothing: no EXIT, no close."""
    a = Archive(v)
    text = b"the report\n"
    if name in ("extra-top", "silent"):
        a.total(len(text) + 3 + 10)
        a.file("report.txt", text)
        a.file(".bashrc", b"evil\n\n")
        a.dir(".ssh", 1)
        a.file("authorized_keys", b"ssh-rsa x\n")
        a.up()
    elif name == "renamed-top":
        a.total(len(text))
        a.file("evil", text)
    elif name == "dup-top":
        a.total(2 * len(text))
        a.file("report.txt", text)
        a.file("report.txt", text)
    elif name == "dir-without-r":
        a.total(len(text))
        a.dir("report.txt", 1)
        a.file("inside", text)
        a.up()
    elif name == "setuid":
        a.total(2 * len(text))
        a.dir("report.txt", 2, mode=0o7777)
        a.file("suid", text, mode=0o4755)
        a.file("sgid", text, mode=0o2775)
        a.up()
    elif name == "extra-bytes":
        # Version 3: the file claims 10 bytes and sends more. Versions 1
        # and 2: the total claims 10 bytes, the file sends more.
        a.total(10)
        a.file("report.txt", b"0123456789" * 3, announce=10)
    elif name == "extra-entries":
        a.total(2 * len(text))
        a.dir("report.txt", 1)
        a.file("first", text)
        a.file("second", text)
        a.up()
    elif name == "top-link":
        a.total(0)
        a.link("report.txt", victim)
    elif name == "link-then-dir":
        a.total(10)
        a.dir("report.txt", 2)
        a.link("conf", victim + ".d")
        a.dir("conf", 1)
        a.file("authorized_keys", b"ssh-rsa x\n")
        a.up()
        a.up()
    elif name == "link-then-file":
        a.total(len(text))
        a.dir("report.txt", 2)
        a.link("f", victim + ".f")
        a.file("f", text)
        a.up()
    elif name == "stream-in-dir":
        a.total(len(text))
        a.dir("report.txt", 1)
        a.file("x", text, announce=SIZE_UNKNOWN)
        a.up()
    elif name in ("escape-error-start", "escape-error-late"):
        a.total(0)
    elif name == "truncated":
        # A directory and a file, then the archive's channel ends (EOF on
        # stdout, no E) and the daemon says nothing more.
        a.total(len(text))
        a.dir("report.txt", 1)
        a.file("inside", text)
        return bytes(a.b)
    elif name in ("escape-name", "escape-message"):
        # Terminal escapes in a name the client prints, and (escape-message)
        # in a message line of the helper (sent by serve()).
        a.total(len(text))
        a.file("report.txt" if name == "escape-message" else "\x1b]2;owned\x07\x1b[2Jreport", text)
    elif name == "device":
        a.total(0)
        a.meta("B", 0o644, "report.txt")
    elif name == "dotdot":
        a.total(len(text))
        a.file("..", text)
    else:
        raise SystemExit("hostile-sessiond: unknown scenario " + name)
    a.end()
    return bytes(a.b)


def frame(ftype, ch, payload=b""):
    return struct.pack("<BBHI", ftype, ch, 0, len(payload)) + payload


def read_exact(conn, n):
    b = b""
    while len(b) < n:
        k = conn.recv(n - len(b))
        if not k:
            raise EOFError
        b += k
    return b


def read_frame(conn):
    ftype, ch, _, length = struct.unpack("<BBHI", read_exact(conn, 8))
    return ftype, ch, read_exact(conn, length) if length else b""


def parse_copy(payload):
    flags, count, _ = struct.unpack_from("<IHH", payload)
    off, paths = 8, []
    for _ in range(count):
        (n,) = struct.unpack_from("<I", payload, off)
        paths.append(payload[off + 4:off + 4 + n].decode(errors="replace"))
        off += 4 + n
    return flags, paths


def drain(conn, timeout=10):
    """As the daemon does after its last frame: read until the client closes,
    so our close never finds its bytes unread (which would reset it)."""
    conn.settimeout(timeout)
    try:
        while conn.recv(4096):
            pass
    except (OSError, socket.timeout):
        pass


def serve(conn, args, name):
    conn.sendall(frame(HELLO, CONTROL, struct.pack("<HHI", args.version, args.version, 0)))
    ftype, _, _ = read_frame(conn)
    if ftype != HELLO:
        raise SystemExit("hostile-sessiond: expected HELLO, got type %d" % ftype)
    ftype, _, payload = read_frame(conn)
    if ftype != GET:
        raise SystemExit("hostile-sessiond: expected GET, got type %d" % ftype)
    flags, paths = parse_copy(payload)
    if args.log:
        with open(args.log, "a") as f:
            f.write("GET flags=%d %s\n" % (flags, " ".join(paths)))
    evil = b"\x1b]2;owned\x07\x1b[2J\nhvsock: all copied"
    if name == "escape-error-start":
        # ERROR instead of STARTED, with escapes and a faked second line.
        conn.sendall(frame(ERROR, CONTROL, struct.pack("<I", 8) + evil))
        drain(conn)
        return
    conn.sendall(frame(STARTED, CONTROL, struct.pack("<I", os.getpid())))
    if name == "escape-error-late":
        conn.sendall(frame(DATA, STDOUT, b"T" + struct.pack("<Q", 0)))
        conn.sendall(frame(ERROR, CONTROL, struct.pack("<I", 11) + evil))
        drain(conn)
        return
    if name == "escape-message":
        conn.sendall(frame(DATA, STDERR, b"hvsock: in the VM: \x1b[2J\x1b]2;owned\x07\xc2\x9b31m all fine\n"))
    data = scenario(name, args.version, args.victim)
    # Well within the client's initial 256 KiB window: no WINDOW needed.
    for i in range(0, len(data), 65536):
        conn.sendall(frame(DATA, STDOUT, data[i:i + 65536]))
    if name == "truncated":
        conn.sendall(frame(EOF, STDOUT))
    if name in ("silent", "truncated"):
        # Say nothing more and keep the connection: the client must not wait.
        drain(conn, 30)
        return
    conn.sendall(frame(EOF, STDOUT) + frame(EOF, STDERR) + frame(EXIT, CONTROL, struct.pack("<BBHI", 0, 0, 0, 0)))
    drain(conn)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--version", type=int, required=True, choices=(1, 2, 3))
    p.add_argument("--scenarios", required=True)
    p.add_argument("--victim", default="/nonexistent")
    p.add_argument("--log")
    p.add_argument("--ready")
    args = p.parse_args()
    names = args.scenarios.split(",")
    for name in names:
        scenario(name, args.version, args.victim)  # unknown names fail now
    os.makedirs(os.path.dirname(args.socket), exist_ok=True)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(4)
    if args.ready:
        open(args.ready, "w").close()
    srv.settimeout(60)
    for name in names:
        conn, _ = srv.accept()
        try:
            serve(conn, args, name)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            pass
        conn.close()
    srv.close()
    os.unlink(args.socket)


if __name__ == "__main__":
    sys.exit(main())
