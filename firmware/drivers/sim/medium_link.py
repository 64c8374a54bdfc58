"""unix_sim PLC: a node of the simulated medium (tools/medium.py), frame-level mode.

The medium is the time master (discrete-event simulation, docs/simulation.md). This driver:
- connects to it on TCP, says HELLO with the meter's ACA,
- drives `self.clock` (same interface as clock.ManualClock) from the medium's time stamps,
- hands received frames to `recv()` with info.rssi (dBuV), .snr (quarter dB), .in_phase, .t_ms
  and .t_end_ms (both the RX event's time: the medium delivers a frame when it ends on the air),
- sends `send(frame)` as TX at the current simulated time and returns after its airtime
  (`airtime_ms(n)`, drivers/sim/air.py),
- keeps at most RXQ_MAX received frames nobody has taken yet; more are dropped (`dropped`),
- after every event from the medium, lets the asyncio loop run until no task is ready, then
  reports IDLE with the earliest time any task sleeps until on the simulated clock (this is
  where plc_tx waits for mac.next_deadline_ms()).

Messages: 2-byte big-endian length, then a type byte and fields (see docs/simulation.md).
"""

import asyncio
import struct
import time

from clock import ManualClock
from micropython import const

from drivers.sim.air import airtime_ms

try:  # the loop's run queue, to tell "nothing is ready to run" (see _settle)
    from asyncio import core as _core

    _TQ = _core._task_queue
except (ImportError, AttributeError):
    _TQ = None

NO_WAKE = const(0xFFFFFFFF)
ROLE_METER = const(0)
MODE_FRAME = const(0)
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
RXQ_MAX = const(8)  # received frames waiting for recv(); the MAC takes one per event


class RxInfo:
    def __init__(self, t_ms, rssi, snr, in_phase):
        self.t_ms = t_ms
        self.t_end_ms = t_ms
        self.rssi = rssi
        self.snr = snr
        self.in_phase = in_phase
        self.tx_imp = None


def _busy():
    """True while some task is ready to run now (the run queue head is due)."""
    head = _TQ.peek()
    if head is None:
        return False
    return time.ticks_diff(head.ph_key, time.ticks_ms()) <= 0


class MediumPhy:
    MODE = MODE_FRAME

    def __init__(self, host, port, cfg, aca=None):
        self.host = host
        self.port = port
        a = aca if aca is not None else cfg.get("aca")
        self.aca = bytes.fromhex(a) if isinstance(a, str) else bytes(a)
        self.clock = ManualClock()
        self._rxq = []
        self._rx_ev = asyncio.Event()
        self._r = None
        self._w = None
        self._started = None
        self._reader_task = None
        self.frames_tx = 0
        self.frames_rx = 0
        self.dropped = 0
        self.events = 0
        self.quit = False

    async def _ensure(self):
        if self._started is None:
            self._started = asyncio.Event()
            self._r, self._w = await asyncio.open_connection(self.host, self.port)
            try:  # no Nagle delay between a TX and the IDLE that follows it
                self._w.s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
            except (AttributeError, OSError):
                pass
            self._write(b"H" + self.aca + bytes((ROLE_METER, self.MODE)))
            await self._w.drain()
            self._reader_task = asyncio.create_task(self._reader())
            self._started.set()
        else:
            await self._started.wait()

    def _write(self, body):
        self._w.write(struct.pack(">H", len(body)) + body)

    def airtime_ms(self, nbytes):
        return airtime_ms(nbytes)

    async def send(self, frame):
        await self._ensure()
        now = self.clock.now_ms()
        self._write(b"T" + struct.pack(">I", now) + bytes(frame))
        await self._w.drain()
        self.frames_tx += 1
        await self.clock.sleep_ms(airtime_ms(len(frame)))

    async def recv(self):
        await self._ensure()
        while not self._rxq:
            self._rx_ev.clear()
            await self._rx_ev.wait()
        return self._rxq.pop(0)

    async def _settle(self):
        """Let every task that the last event woke run until all wait again."""
        if _TQ is None:
            for _ in range(30):
                await asyncio.sleep_ms(0)
            return
        for _ in range(10000):
            await asyncio.sleep_ms(0)
            if not _busy():
                return

    async def _reader(self):
        r = self._r
        try:
            while True:
                hdr = await r.readexactly(2)
                n = (hdr[0] << 8) | hdr[1]
                if n == 0:  # long form: a u32 length follows
                    hdr = await r.readexactly(4)
                    n = struct.unpack(">I", hdr)[0]
                body = await r.readexactly(n)
                kind = body[0]
                t = struct.unpack_from(">I", body, 1)[0]
                self.events += 1
                if kind == 0x51:  # 'Q'
                    break
                self.clock.set(t)
                if kind == 0x52:  # 'R' t rssi_q snr_q in_phase frame
                    rssi_q, snr_q, ph = struct.unpack_from(">hhB", body, 5)
                    if len(self._rxq) >= RXQ_MAX:
                        self.dropped += 1
                    else:
                        info = RxInfo(t, rssi_q >> 2, snr_q, None if ph > 1 else ph == 1)
                        self._rxq.append((bytes(body[10:]), info))
                        self.frames_rx += 1
                        self._rx_ev.set()
                else:
                    self._on_event(kind, t, body)
                await self._settle()
                w = self.clock.next_wakeup()
                self._write(
                    b"I" + struct.pack(">II", self.clock.now_ms(), NO_WAKE if w is None else w)
                )
                await self._w.drain()
        except (EOFError, OSError):
            pass
        self.quit = True
        self.close()
        # The medium ended the simulation: leave the process.
        import sys

        sys.exit(0)

    def _on_event(self, kind, t, body):
        """Other event types (sample mode); CLOCK needs nothing beyond setting the time."""
        return False

    def close(self):
        if self._w is not None:
            try:
                self._w.close()
            except OSError:
                pass
            self._w = None
