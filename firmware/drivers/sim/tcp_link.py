"""unix_sim PLC: a direct point-to-point link to one concentrator over TCP on 127.0.0.1.

Each frame travels as a 2-byte big-endian length followed by the data-link frame bytes (LT
through INF-Data, without the PHY CRC), in both directions. Real time: the clock is the
board's; no link metrics exist (info.rssi/.snr/.in_phase are None) and a frame ends when its
last byte arrives (info.t_end_ms = info.t_ms). Time on air, for the MAC's timing, is the soft
PHY profile's (drivers/sim/air.py), though nothing waits for it here.
One client at a time; a second connection replaces the first. Frames sent while no client is
connected are dropped, as are received frames beyond RXQ_MAX waiting (both counted in
`dropped`).

Every connection's socket is closed with `await writer.wait_closed()`: in MicroPython's asyncio
`Stream.close()` does nothing and only `wait_closed()` closes the socket, so a bare close() leaks
one file descriptor per connection until accept() fails and the listener spins.
"""

import asyncio
import struct

from micropython import const

from drivers.sim.air import airtime_ms

RXQ_MAX = const(8)


class LinkInfo:
    def __init__(self, t_ms):
        self.t_ms = t_ms
        self.t_end_ms = t_ms
        self.rssi = None
        self.snr = None
        self.in_phase = None
        self.tx_imp = None


class TcpLinkPhy:
    def __init__(self, port, clock, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.clock = clock
        self._server = None
        self._w = None
        self._conn = None  # the task serving the current connection
        self._rxq = []
        self._rx_ev = asyncio.Event()
        self.frames_tx = 0
        self.frames_rx = 0
        self.dropped = 0
        self.bad = 0
        self.connections = 0

    def airtime_ms(self, nbytes):
        return airtime_ms(nbytes)

    async def start(self):
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _accept(self, reader, writer):
        me = asyncio.current_task()
        old = self._conn
        self._conn = me
        self._w = writer
        self.connections += 1
        if old is not None:
            old.cancel()  # its finally closes its socket
        try:
            while True:
                hdr = await reader.readexactly(2)
                n = (hdr[0] << 8) | hdr[1]
                if n == 0 or n > 255:
                    self.bad += 1
                    break
                frame = await reader.readexactly(n)
                if len(self._rxq) >= RXQ_MAX:
                    self.dropped += 1
                    continue
                self._rxq.append((frame, LinkInfo(self.clock.now_ms())))
                self.frames_rx += 1
                self._rx_ev.set()
        except (EOFError, OSError):
            pass
        finally:
            if self._w is writer:
                self._w = None
            if self._conn is me:
                self._conn = None
            await _close(writer)

    async def recv(self):
        await self.start()
        while not self._rxq:
            self._rx_ev.clear()
            await self._rx_ev.wait()
        return self._rxq.pop(0)

    async def send(self, frame):
        await self.start()
        w = self._w
        if w is None:
            self.dropped += 1
            return
        try:
            w.write(struct.pack(">H", len(frame)) + bytes(frame))
            await w.drain()
            self.frames_tx += 1
        except OSError:
            self.dropped += 1


async def _close(writer):
    """Close a stream's socket for real (see the module docstring)."""
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:
        pass
