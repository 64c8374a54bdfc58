"""The meter: builds the layers on a board's hardware and runs them in one asyncio loop.

    PHY (board) --frames--> MAC (link, repetition, network management) --LSDU--> application
The same object runs on every board; `make repl` leaves it reachable as `meter`.
"""

import asyncio
import struct

import storekeys
from config import raw
from smitp.al import Application
from smitp.security import Security
from store import Store


class Meter:
    def __init__(self, hw, cfg, rng=None):
        self.hw = hw
        self.cfg = cfg
        self.clock = hw.clock
        self.aca = raw(cfg, "aca")
        self.store = Store(hw.flash)
        st = self.store.stats()
        # a torn tail or a damaged record found at mount: power was cut mid-write
        self.store_recovered = bool(st["dirty"] or st["corrupt"])
        self.boots = self._count_boot()
        self.rng = rng or _default_rng(cfg)
        self._wake = asyncio.Event()
        self.sec = Security(
            self.store, self.aca, (raw(cfg, "key_write"), raw(cfg, "key_read")), _rtc(hw)
        )
        self.al = Application(self)
        self.mac = self._build_mac()
        self.tasks = []

    def _count_boot(self):
        old = self.store.get(storekeys.BOOT_COUNT)
        n = (struct.unpack(">I", old)[0] if old else 0) + 1
        self.store.put(storekeys.BOOT_COUNT, struct.pack(">I", n))
        return n

    def _build_mac(self):
        from mac.link import Mac

        return Mac(
            self.aca,
            store=self.store,
            rng=self.rng,
            app=self.application,
            config=self.cfg,
        )

    def application(self, lsdu, ctx):
        """DSAP 0: the SMITP application layer answers the LSDU the MAC hands up."""
        return self.al.handle(lsdu, ctx)

    # --- PLC --------------------------------------------------------------------------------

    async def plc_rx(self):
        phy = self.hw.phy
        while True:
            frame, info = await phy.recv()
            self.mac.on_rx(frame, info, self.clock.now_ms())
            self._wake.set()

    async def plc_tx(self):
        phy = self.hw.phy
        while True:
            now = self.clock.now_ms()
            frame = self.mac.poll(now)
            if frame is not None:
                await phy.send(frame)
                self.mac.tx_done(self.clock.now_ms())
                continue
            deadline = self.mac.next_deadline_ms()
            self._wake.clear()
            if deadline is None:
                await self._wake.wait()
            else:
                await _wait_or_timeout(self._wake, self.clock, deadline - now)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self):
        """Create the meter's tasks on the running loop and return them."""
        if self.hw.phy is not None:
            self.tasks.append(asyncio.create_task(self.plc_rx()))
            self.tasks.append(asyncio.create_task(self.plc_tx()))
        return self.tasks

    async def run(self, console=None):
        self.start()
        if console is not None:
            await console.run()
        else:
            while True:
                await asyncio.sleep_ms(60_000)

    def status(self):
        return {
            "board": self.hw.name,
            "aca": self.aca.hex(),
            "boots": self.boots,
            "now_ms": self.clock.now_ms(),
            "mac": getattr(self.mac, "stats", None),
            "store": self.store.stats(),
            "sec": self.sec.status(),
        }


async def _wait_or_timeout(event, clock, ms):
    """Return when event is set or ms have passed on the injected clock, whichever is first."""
    if ms <= 0:
        return

    async def timer():
        await clock.sleep_ms(ms)
        event.set()

    t = asyncio.create_task(timer())
    await event.wait()
    if not t.done():
        t.cancel()


def _rtc(hw):
    """seconds() of the board's RTC (the RTC contract); older RTC adapters name it now()."""
    rtc = hw.rtc
    if rtc is None:
        return None
    return getattr(rtc, "seconds", None) or rtc.now


def _default_rng(cfg):
    import random

    if cfg.get("seed") is not None:
        random.seed(cfg["seed"])
    return random.getrandbits
