"""unix_sim serial port: a TCP listener on 127.0.0.1 that one client (a probe tool) connects to.

It presents the stream interface the optical-port code uses on a board's UART: asyncio
`read(n)`/`readline()`/`write()`, plus `init(baudrate=...)` so baud switches are recorded.
Bytes travel as 8-bit octets; parity (7E1 on the optical port) is the protocol layer's job.
Sockets are closed with `await wait_closed()` (drivers/sim/tcp_link.py says why).
"""

import asyncio

from drivers.sim.tcp_link import _close


class TcpSerial:
    def __init__(self, port, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.baudrate = 300
        self._reader = None
        self._writer = None
        self._connected = asyncio.Event()
        self._server = None

    async def start(self):
        self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _accept(self, reader, writer):
        if self._writer is not None:  # one probe at a time, like one optical head
            await _close(writer)
            return
        self._reader, self._writer = reader, writer
        self._connected.set()

    def init(self, baudrate=None, **_):
        if baudrate:
            self.baudrate = baudrate

    async def read(self, n=1):
        while True:
            await self._connected.wait()
            try:
                data = await self._reader.read(n)
            except OSError:  # reset by the peer
                data = b""
            if data:
                return data
            await self._drop()

    async def write(self, data):
        if self._writer is None:
            return 0
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError:
            await self._drop()
            return 0
        return len(data)

    async def _drop(self):
        w = self._writer
        self._reader = self._writer = None
        self._connected = asyncio.Event()
        if w is not None:
            await _close(w)
