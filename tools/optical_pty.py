"""Give a unix_sim meter's optical port a pty path that any serial client can open.

    python tools/optical_pty.py 127.0.0.1:7021 [--link ./meter.pty]

prints `PTY /dev/pts/N` (and makes --link a symlink to it), then relays bytes between the pty
and the meter's TCP optical port (firmware/drivers/sim/optical_tcp.py) until the meter closes
the connection or the bridge is interrupted.

7E1 over the 8-bit TCP link (docs/optical.md "unix_sim"): each TCP octet is the 8 bits of a
7E1 character between start and stop bit, bit 7 the even-parity bit. The bridge plays the
UART of the hand-held unit: towards the meter it sets bit 7 of every character the client
writes to the even parity of bits 0-6 (a pty has no parity, so the client's 7-bit characters
arrive as they are); from the meter it checks and strips bit 7 and hands the client a NUL
for a character with a parity error, as a Linux tty with INPCK and without PARMRK does.
Counts of characters and parity errors go to stderr when it ends. The pty has no baud rate:
the client's rate changes have no effect on the link.

Mode F (docs/optical.md): a pty carries no character format either (Linux keeps no CS7/PARENB
on a pty), so the bridge follows the session: after the client's option select `ACK 0 Z F
CR LF` the link is 8N1 and bytes pass unchanged both ways, until the client sends the break
`SOH B 0 ETX q` or the line has been silent for 60 s (the meter's inactivity rule); then 7E1
again.
"""

import argparse
import os
import re
import selectors
import signal
import socket
import sys
import time
import tty

_OPTION_F = re.compile(rb"\x060[0-6]F\r\n$")  # option select of the SMITP local profile
_BREAK = b"\x01B0\x03q"
IDLE_S = 60.0  # the meter ends a mode F session after this long without a frame


def parity7(c):
    """The even-parity bit (as bit 7) for the 7-bit character c."""
    return (bin(c & 0x7F).count("1") & 1) << 7


def to_line(data):
    return bytes((c & 0x7F) | parity7(c) for c in data)


def from_line(data, counts):
    out = bytearray()
    for c in data:
        if (c & 0x80) == parity7(c):
            out.append(c & 0x7F)
        else:
            counts["parity_errors"] += 1
            out.append(0)
    return bytes(out)


class LineFormat:
    """Which character format the meter's port runs: 7E1, or 8N1 inside a mode F session."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.seven = True
        self._tail = b""
        self._last = clock()

    def _tick(self):
        now = self.clock()
        if not self.seven and now - self._last > IDLE_S:
            self.seven = True  # the meter has timed the session out
            self._tail = b""
        self._last = now

    def from_client(self, data):
        """Call before relaying the client's bytes; returns the format they go out in."""
        self._tick()
        seven = self.seven
        self._tail = self._tail + bytes(c & 0x7F for c in data) if seven else self._tail + data
        self._tail = self._tail[-6:]
        if seven and _OPTION_F.search(self._tail):
            self.seven = False
            self._tail = b""
        elif not seven and self._tail.endswith(_BREAK):
            self.seven = True
            self._tail = b""
        return seven

    def from_meter(self):
        self._tick()
        return self.seven


def open_pty(link=None):
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no CR/LF mapping until the client sets its own mode
    path = os.ttyname(slave)
    if link:
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        os.symlink(path, link)
    # the bridge keeps its slave end open: the master then never reads EIO while no client
    # has the pty open (clients close and reopen it, e.g. on a baud change)
    return master, slave, path


def relay(sock, master, counts, fmt=None):
    fmt = fmt or LineFormat()
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "meter")
    sel.register(master, selectors.EVENT_READ, "pty")
    while True:
        for key, _ in sel.select():
            if key.data == "meter":
                data = sock.recv(4096)
                if not data:
                    return
                counts["from_meter"] += len(data)
                os.write(master, from_line(data, counts) if fmt.from_meter() else data)
            else:
                data = os.read(master, 4096)
                counts["to_meter"] += len(data)
                sock.sendall(to_line(data) if fmt.from_client(data) else data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("meter", help="host:port of the meter's optical port (cfg optical_port)")
    ap.add_argument("--link", help="also make this path a symlink to the pty")
    a = ap.parse_args(argv)
    host, port = a.meter.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    master, slave, path = open_pty(a.link)
    print("PTY", path, flush=True)
    counts = {"to_meter": 0, "from_meter": 0, "parity_errors": 0}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # clean up and report on kill too
    try:
        relay(sock, master, counts)
    except KeyboardInterrupt:
        pass
    finally:
        print(" ".join("%s=%d" % kv for kv in counts.items()), file=sys.stderr)
        sock.close()
        os.close(master)
        os.close(slave)
        if a.link:
            try:
                os.unlink(a.link)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    main()
