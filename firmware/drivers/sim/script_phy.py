"""unix_sim PLC for tests and benchmarks: a PHY driven by a script instead of a link.

    phy = ScriptPhy(clock)
    phy.push(frame, t_end_ms)      # recv() hands it up now, as ended on the air at t_end_ms
    phy.sent                       # [(clock.now_ms(), time.ticks_us(), frame bytes), ...]
    phy.fail = 2                   # the next 2 recv() calls raise OSError (a driver fault)

Time on air is the unix_sim links' (drivers/sim/air.py). No queue bound: the script decides.
"""

import asyncio
import time

from drivers.sim.air import airtime_ms


class ScriptInfo:
    def __init__(self, t_ms, t_end_ms):
        self.t_ms = t_ms
        self.t_end_ms = t_end_ms
        self.rssi = None
        self.snr = None
        self.in_phase = None
        self.tx_imp = None


class ScriptPhy:
    def __init__(self, clock):
        self.clock = clock
        self.q = []
        self.ev = asyncio.Event()
        self.sent = []
        self.fail = 0

    def airtime_ms(self, nbytes):
        return airtime_ms(nbytes)

    def push(self, frame, t_end_ms):
        self.q.append((bytes(frame), ScriptInfo(self.clock.now_ms(), t_end_ms)))
        self.ev.set()

    async def recv(self):
        while not self.q:
            self.ev.clear()
            await self.ev.wait()
        if self.fail:
            self.fail -= 1
            raise OSError("scripted driver fault")
        return self.q.pop(0)

    async def send(self, frame):
        self.sent.append((self.clock.now_ms(), time.ticks_us(), bytes(frame)))
