"""unix_sim PLC: a direct point-to-point link to one concentrator over TCP on 127.0.0.1.

Each frame travels as a 2-byte big-endian length followed by the data-link frame bytes (LT
through INF-Data, without the PHY CRC), in both directions. Real time: the clock is the
board's; no airtime is emulated and no link metrics exist (info.rssi/.snr/.in_phase are None).
One client at a time; a second connection replaces the first. Frames sent while no client is
connected are dropped (counted in `dropped`).
"""

import asyncio
import struct


class LinkInfo:
    def __init__(self, t_ms):
        self.t_ms = t_ms
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
        self._rxq = []
        self._rx_ev = asyncio.Event()
        self.frames_tx = 0
        self.frames_rx = 0
        self.dropped = 0
        self.bad = 0

    async def start(self):
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _accept(self, reader, writer):
        old = self._w
        self._w = writer
        if old is not None:
            try:
                old.close()
            except OSError:
                pass
        try:
            while True:
                hdr = await reader.readexactly(2)
                n = (hdr[0] << 8) | hdr[1]
                if n == 0 or n > 255:
                    self.bad += 1
                    break
                frame = await reader.readexactly(n)
                self._rxq.append((frame, LinkInfo(self.clock.now_ms())))
                self.frames_rx += 1
                self._rx_ev.set()
        except (EOFError, OSError):
            pass
        if self._w is writer:
            self._w = None
        try:
            writer.close()
        except OSError:
            pass

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
