"""The optical port task: runs the IEC 62056-21 engine on a serial port in the asyncio loop.

`serial` is an interfaces.Serial (non-blocking readinto/write, configure(baud, bits, parity,
stop)). Nothing here waits on the port: the task polls it, hands bytes to the engine, and
paces its writes from the line's character time so a driver never has more than _WINDOW
characters queued (an ESP32 TX ring never fills, so its write never blocks). Before a baud
change it waits, on the injected clock, until the last character has left the line (the
driver's optional tx_idle(), else the character-time estimate): that is the turnaround
(docs/optical.md "Timing").
"""

from micropython import const

_IDLE_POLL_MS = const(50)  # 300 Bd idle: 1.5 characters per poll; the UART buffers them
_BUSY_POLL_MS = const(5)  # inside a session
_WINDOW = const(16)  # characters handed to the driver ahead of the line
_CHUNK = const(16)
_BITS_PER_CHAR = const(10)  # start, 7 data, even parity, stop


def char_us(baud):
    return _BITS_PER_CHAR * 1_000_000 // baud


class OpticalPort:
    def __init__(self, engine, serial, clock, faults=None):
        self.engine = engine
        self.serial = serial
        self.clock = clock
        self.faults = faults
        self.baud = 0
        self.binary = False  # 8N1 (mode F) rather than 7E1
        self.last_fault = None
        self._buf = bytearray(64)
        self._mv = memoryview(self._buf)
        self._free_us = 0  # when the line has sent everything handed to the driver
        # a driver that can tell when its line is empty (UART TC flag, txdone(), the sim's
        # TCP socket) is asked; otherwise the character-time estimate decides
        self._tx_idle = getattr(serial, "tx_idle", None)

    def _configure(self, baud, binary=False):
        if binary:
            self.serial.configure(baud, 8, None, 1)
        else:
            self.serial.configure(baud, 7, 0, 1)
        self.baud = baud
        self.binary = binary

    async def run(self):
        clock = self.clock
        self._configure(300)
        while True:
            try:
                wait = await self._step(clock.now_ms())
            except Exception as e:  # a driver error, a bug or a failing value source
                self._fault(e, clock.now_ms())
                wait = _IDLE_POLL_MS  # a port that keeps failing cannot spin
            if wait is not None:
                await clock.sleep_ms(wait)  # 0 still yields to the other tasks

    async def _step(self, now):
        """Read, run the engine, send what is due; returns how long to sleep, or None to go
        on at once after sending."""
        eng = self.engine
        n = self.serial.readinto(self._buf)
        if n:
            eng.on_rx(self._mv[:n], now)
        out = eng.poll(now)
        if out is not None:
            await self._send(out)
            await self._until_line_free()
            eng.tx_done(self.clock.now_ms())
        if eng.baud != self.baud or eng.binary != self.binary:
            await self._until_line_free()
            self._configure(eng.baud, eng.binary)
        if out is not None:
            return None
        deadline = eng.next_deadline_ms()
        wait = _IDLE_POLL_MS if eng.idle else _BUSY_POLL_MS
        if deadline is not None and deadline - now < wait:
            wait = max(deadline - now, 0)
        return wait

    def _fault(self, e, now):
        if self.faults is not None:
            self.faults.record(e, "optical")
        self.last_fault = (type(e).__name__, "optical", now)
        self.engine.abort(now)

    async def _send(self, out):
        clock = self.clock
        cu = char_us(self.baud)
        i = 0
        n = len(out)
        while i < n:
            now_us = clock.now_ms() * 1000
            if self._tx_idle is not None and self._tx_idle():
                self._free_us = now_us
            ahead = self._free_us - now_us
            if ahead > _WINDOW * cu:
                await clock.sleep_ms((ahead - _WINDOW * cu) // 1000 + 1)
                continue
            k = self.serial.write(out[i : min(n, i + _CHUNK)])
            if k:
                self._free_us = max(self._free_us, now_us) + k * cu
                i += k
            else:
                await clock.sleep_ms(cu // 1000 + 1)

    async def _until_line_free(self):
        while True:
            wait_us = self._free_us - self.clock.now_ms() * 1000
            if self._tx_idle is not None:
                if self._tx_idle():
                    return
                wait_us = max(wait_us, char_us(self.baud))  # look again a character later
            elif wait_us <= 0:
                return
            await self.clock.sleep_ms(wait_us // 1000 + 1)
