"""unix_sim optical head: the meter's optical port as a TCP listener on 127.0.0.1.

An interfaces.Serial (non-blocking read/readinto/write/any, configure) on a non-blocking
socket, one client at a time (a new connection replaces the old one, as a new head would).

7E1 over an 8-bit link: each TCP octet is the 8 bits a 7E1 character carries between its
start and stop bits, b0..b6 the character and b7 the even-parity bit. With configure(bits=7,
parity=0) write() sets b7 to the parity of b0..b6, and read() checks it and strips it; a
character whose parity is wrong keeps bit 7 set, which the engine counts as a line error (a
board's UART delivers it unmarked; docs/optical.md). Any other setting passes octets as they
are. The baud rate is recorded (`baudrate`, `changes`), not emulated: TCP has none.
"""

import select
import socket

_EAGAIN = (11, 35)  # Linux, macOS


def even_parity_bit(c):
    """The even-parity bit of a 7-bit character, as bit 7."""
    x = c ^ (c >> 4)
    x ^= x >> 2
    x ^= x >> 1
    return (x & 1) << 7


class TcpOptical:
    def __init__(self, port, host="127.0.0.1"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo(host, port)[0][-1])
        s.listen(1)
        s.setblocking(False)
        self._server = s
        self._conn = None
        self._tx = bytearray(64)
        self.baudrate = 300
        self.bits = 8
        self.parity = None
        self.changes = 0  # configure() calls that changed the rate
        self.parity_errors = 0

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        if baudrate != self.baudrate:
            self.changes += 1
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity

    def _client(self):
        try:
            conn, _ = self._server.accept()
        except OSError as e:
            if e.errno not in _EAGAIN:
                raise
            return self._conn
        conn.setblocking(False)
        try:  # TCP_NODELAY: a lone ACK must not wait behind Nagle
            conn.setsockopt(6, 1, 1)
        except (OSError, AttributeError):
            pass
        self._drop()
        self._conn = conn
        return conn

    def _drop(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def readinto(self, buf):
        c = self._client()
        if c is None:
            return None
        try:
            n = c.readinto(buf)
        except OSError:  # reset by the peer
            n = 0
        if n is None:
            return None
        if n == 0:  # the head went away
            self._drop()
            return None
        if self.bits == 7 and self.parity == 0:
            for i in range(n):
                b = buf[i]
                if (b & 0x80) == even_parity_bit(b & 0x7F):
                    buf[i] = b & 0x7F
                else:
                    self.parity_errors += 1
                    buf[i] = b | 0x80
        return n

    def read(self, n):
        buf = bytearray(n)
        k = self.readinto(buf)
        return bytes(buf[:k]) if k else None

    def any(self):
        """1 when bytes are waiting, else 0 (a socket does not tell how many)."""
        c = self._client()
        if c is None:
            return 0
        p = select.poll()
        p.register(c, select.POLLIN)
        return 1 if p.poll(0) else 0

    def write(self, buf):
        c = self._client()
        if c is None:
            return len(buf)  # nobody listening: the light goes nowhere
        n = min(len(buf), len(self._tx))
        tx = self._tx
        seven = self.bits == 7 and self.parity == 0
        for i in range(n):
            b = buf[i]
            tx[i] = (b & 0x7F) | even_parity_bit(b & 0x7F) if seven else b
        try:
            k = c.write(memoryview(tx)[:n])
        except OSError:
            self._drop()
            return n
        return k or 0

    def tx_idle(self):
        """TCP has no line to drain: what write() took is gone."""
        return True

    def close(self):
        self._drop()
        self._server.close()
