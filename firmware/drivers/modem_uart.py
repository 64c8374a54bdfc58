"""External certified M&M modem on a UART: the PHY backend speaking the host interface (HI).

Same PHY interface as the soft B-PSK backend (`phy.softphy.SoftPhy`):
    await phy.send(frame)             # data-link frame -> Slave_Data.REQ (modem adds the CRC32)
    frame, info = await phy.recv()    # Slave_Data.IND -> bytes + RxInfo(rssi, snr, in_phase, t_ms)
plus the modem services `mib_read(i)`, `mib_write(i, data)`, `ping()`, `reset()`.

`uart` is any stream object asyncio can poll: machine.UART(…, timeout=0) on a board, a
connected non-blocking socket on the unix port (`open_tcp()`, used with tools/modem_sim.py).
The protocol logic (framing, ACK/NACK, retries, timeouts) is phy.hostif.HostIf; this module is
only the asyncio glue. See docs/modem.md for the payload layouts we had to choose.

Usage:
    phy = HostIfPhy(machine.UART(2, 57600, timeout=0), reset_pin=machine.Pin("PG1", Pin.OUT))
    await phy.reset()
    await phy.mib_write(hostif.MIB_LMON, hostif.encode_lmon(store_lmon))
"""

import asyncio

from micropython import const
from phy import hostif

_RBUF = const(64)  # bytes read per wake-up; <= hostif ring slack (512 - 261)
_TICK_BUSY_MS = const(5)  # service period while a request or a partial frame is pending
_TICK_IDLE_MS = const(50)
_RESET_PULSE_MS = const(5)
_RESET_WAIT_MS = const(1000)  # time for the modem to boot and send BIO_Reset.IND
_DATA_MARGIN_MS = const(125)  # CFM timeout for data = 125 ms + on-air time of the frame [I]
_AIR_BPS = const(4800)  # M&M coded bit rate (facts section 1)
_AIR_OVERHEAD = const(16)  # preamble/header/CRC allowance in bytes [I]
_RXQ = const(4)  # indications kept while nobody awaits recv()


class RxInfo:
    """Receive metadata: rssi (dBuV), snr (quarter dB, signed), in_phase (bool), t_ms (host)."""

    def __init__(self, rssi=0, snr=0, in_phase=False, t_ms=0, protocol=0):
        self.rssi = rssi
        self.snr = snr
        self.in_phase = in_phase
        self.t_ms = t_ms
        self.t_end_ms = t_ms  # the modem does not say when the frame ended: hand-up time bounds it
        self.protocol = protocol

    def __repr__(self):
        return "RxInfo(rssi=%d, snr=%d, in_phase=%s, t_ms=%d)" % (
            self.rssi,
            self.snr,
            self.in_phase,
            self.t_ms,
        )


def open_tcp(host, port):
    """Unix port: a connected non-blocking TCP socket to use as the modem 'uart'."""
    import socket

    s = socket.socket()
    s.connect(socket.getaddrinfo(host, port)[0][-1])
    try:  # TCP_NODELAY: a 1-byte ACK must not wait behind Nagle + delayed ACK (40 ms)
        s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (Linux values)
    except (OSError, AttributeError):
        pass
    s.setblocking(False)
    return s


class HostIfPhy:
    """PHY backend driving a certified M&M modem through its host interface."""

    def __init__(
        self,
        uart,
        reset_pin=None,
        clock=None,
        role="slave",
        protocol=0,
        retries=2,
        ack_ms=40,
        cfm_ms=125,
    ):
        if role not in ("slave", "master"):
            raise ValueError("role is 'slave' (meter) or 'master' (concentrator)")
        if clock is None:
            from clock import Clock

            clock = Clock()
        self._uart = uart
        self._reset_pin = reset_pin
        self._clock = clock
        self.protocol = protocol
        if role == "slave":
            self._data_req = hostif.CMD_SLAVE_DATA_REQ
        else:
            self._data_req = hostif.CMD_MASTER_DATA_REQ
        self._hi = hostif.HostIf(self._write, retries, ack_ms, cfm_ms)
        self._rbuf = bytearray(_RBUF)
        self._dbuf = bytearray(hostif.MAX_PAYLOAD)  # data request payload
        self._req_id = 0
        self._ping_token = 0
        self._reader = None
        self._writer = None
        self._tasks = None
        self._lock = None  # one request in flight (asyncio objects made on first use)
        self._wlock = None
        self._done = None
        self._result = None
        self._rxq = []
        self._rx_ev = None
        self._reset_ev = None
        self.status = 0
        self.mib_mask = 0
        self.rx_dropped = 0  # indications lost because recv() lagged
        self.unexpected = 0  # frames that were neither ours nor an indication we know
        self.hi_errors = 0  # HI_Error.IND outside a request
        self.last_error = 0
        self.closed = False

    # --- plumbing ------------------------------------------------------------------------------

    def _write(self, buf):
        if self._writer is not None:
            self._writer.write(buf)  # writes through now if it can, else buffers for drain()

    def _start(self):
        if self._tasks is not None:
            return
        self._reader = asyncio.StreamReader(self._uart)
        self._writer = asyncio.StreamWriter(self._uart, {})
        self._lock = asyncio.Lock()
        self._wlock = asyncio.Lock()
        self._done = asyncio.Event()
        self._rx_ev = asyncio.Event()
        self._reset_ev = asyncio.Event()
        self._tasks = (
            asyncio.create_task(self._rx_task()),
            asyncio.create_task(self._tick_task()),
        )

    async def _flush(self):
        async with self._wlock:
            await self._writer.drain()

    async def _rx_task(self):
        rbuf = self._rbuf
        while True:
            try:
                n = await self._reader.readinto(rbuf)
            except OSError:
                n = 0
            if not n:
                self._eof()
                return
            self._hi.feed(rbuf, n, self._clock.now_ms())
            self._service()
            await self._flush()

    async def _tick_task(self):
        hi = self._hi
        while True:
            busy = hi.busy() or hi.parser.pending()
            await self._clock.sleep_ms(_TICK_BUSY_MS if busy else _TICK_IDLE_MS)
            self._service()
            await self._flush()

    def _eof(self):
        self.closed = True
        if self._hi.busy():
            self._hi.cancel()
            self._result = (hostif.ERR_ERROR, hostif.CMD_PING_REQ, b"")
            self._done.set()
        self._rx_ev.set()

    def _service(self):
        hi = self._hi
        now = self._clock.now_ms()
        while True:
            ev = hi.poll(now)
            if ev == hostif.EV_NONE:
                return
            if ev == hostif.EV_DONE:
                self._result = (hi.error, hi.cmd, bytes(hi.payload()))
                self._done.set()
            elif ev == hostif.EV_IND:
                self._indication(hi.cmd, hi.payload(), now)
            elif ev == hostif.EV_STATUS:
                self.status = hi.status
                self.mib_mask = hi.mib_mask

    def _indication(self, cmd, p, now):
        if cmd == hostif.CMD_SLAVE_DATA_IND or cmd == hostif.CMD_MASTER_DATA_IND:
            if len(p) < hostif.DATA_IND_HDR:
                self.unexpected += 1
                return
            proto, rssi, snr, in_phase = hostif.decode_data_ind(p)
            if len(self._rxq) >= _RXQ:
                self._rxq.pop(0)
                self.rx_dropped += 1
            info = RxInfo(rssi, snr, in_phase, now, proto)
            self._rxq.append((bytes(p[hostif.DATA_IND_HDR :]), info))
            self._rx_ev.set()
        elif cmd == hostif.CMD_BIO_RESET_IND:
            self._reset_ev.set()
        elif cmd == hostif.CMD_HI_ERROR_IND:
            self.hi_errors += 1
            self.last_error = p[0] if len(p) else hostif.ERR_ERROR
        else:
            self.unexpected += 1  # e.g. a CFM that came after its request timed out

    async def _transact(self, cmd, payload, n=-1, cfm_ms=0, expect=-1):
        self._start()
        if self.closed:
            raise hostif.HostIfError(hostif.ERR_ERROR, cmd)
        async with self._lock:
            self._done.clear()
            self._hi.request(cmd, payload, self._clock.now_ms(), n, cfm_ms, expect)
            await self._flush()
            await self._done.wait()
            err, rcmd, data = self._result
        if err:
            self.last_error = err
            raise hostif.HostIfError(err, cmd)
        return data

    # --- PHY interface -------------------------------------------------------------------------

    def airtime_ms(self, nbytes):
        """Time on air of an n-byte MAC frame through the certified modem (rounded up)."""
        return ((nbytes + _AIR_OVERHEAD) * 8000 + _AIR_BPS - 1) // _AIR_BPS

    async def send(self, frame):
        """Hand one data-link frame to the modem (Slave_Data.REQ, or Master_Data for a DCU)."""
        n = len(frame)
        if n < 1 or n > hostif.MAX_PAYLOAD - hostif.DATA_REQ_HDR:
            raise ValueError("frame length")
        self._req_id = (self._req_id + 1) & 0xFF
        m = hostif.data_req_into(self._dbuf, self.protocol, self._req_id, frame, n)
        cfm_ms = _DATA_MARGIN_MS + self.airtime_ms(n)
        await self._transact(self._data_req, self._dbuf, m, cfm_ms, self._req_id)

    async def recv(self):
        """Next received data-link frame: (bytes, RxInfo). Raises OSError once the link closed."""
        self._start()
        while not self._rxq:
            if self.closed:
                raise OSError("modem link closed")
            self._rx_ev.clear()
            await self._rx_ev.wait()
        return self._rxq.pop(0)

    # --- modem services ------------------------------------------------------------------------

    async def mib_read(self, index):
        """MIB object `index` as bytes (CFM payload = index | data)."""
        data = await self._transact(
            hostif.CMD_MIB_READ_REQ, hostif.mib_read_req(index), -1, 0, index
        )
        if not data or data[0] != index:
            raise hostif.HostIfError(hostif.ERR_ERROR, hostif.CMD_MIB_READ_REQ)
        return data[1:]

    async def mib_write(self, index, data):
        size = hostif.mib_size(index)
        if size and len(data) != size:
            raise ValueError("MIB %d is %d bytes" % (index, size))
        await self._transact(
            hostif.CMD_MIB_WRITE_REQ, hostif.mib_write_req(index, data), -1, 0, index
        )

    async def ping(self, token=-1):
        """Round trip time in ms of a Ping.REQ; the modem echoes the 1-byte token [I]."""
        if token < 0:
            self._ping_token = token = (self._ping_token + 1) & 0xFF
        token &= 0xFF
        t0 = self._clock.now_ms()
        await self._transact(hostif.CMD_PING_REQ, bytes((token,)), -1, 0, token)
        return self._clock.now_ms() - t0

    async def reset(self, timeout_ms=_RESET_WAIT_MS):
        """Reset the modem (pin pulse if wired, else BIO_Reset.REQ) and wait for BIO_Reset.IND.

        The modem does not keep MIB 10 (LMON) across a reset: the caller writes it back.
        """
        self._start()
        self._reset_ev.clear()
        if self._reset_pin is not None:
            async with self._lock:
                self._reset_pin.value(0)
                await self._clock.sleep_ms(_RESET_PULSE_MS)
                self._hi.reset()
                self._rxq.clear()
                self._reset_pin.value(1)
        else:
            await self._transact(hostif.CMD_BIO_RESET_REQ, b"\x00")
        t0 = self._clock.now_ms()
        while not self._reset_ev.is_set():
            if self._clock.now_ms() - t0 >= timeout_ms:
                raise hostif.HostIfError(hostif.ERR_TIMEOUT, hostif.CMD_BIO_RESET_REQ)
            await self._clock.sleep_ms(_TICK_BUSY_MS)

    def stats(self):
        hi = self._hi
        p = hi.parser
        return {
            "resends": hi.resends,
            "duplicates": hi.duplicates,
            "stale": hi.stale,
            "crc_errors": p.crc_errors,
            "garbage": p.garbage,
            "timeouts": p.timeouts,
            "rx_dropped": self.rx_dropped,
            "unexpected": self.unexpected,
            "hi_errors": self.hi_errors,
        }

    def close(self):
        if self._tasks is not None:
            for t in self._tasks:
                t.cancel()
            self._tasks = None
        try:
            self._uart.close()
        except (AttributeError, OSError):
            pass
        self.closed = True
