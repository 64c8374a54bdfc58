"""The meter: builds the layers on a board's hardware and runs them in one asyncio loop.

    PHY (board) --frames--> MAC (link, repetition, network management) --LSDU--> application
The same object runs on every board; `make repl` leaves it reachable as `meter`.
"""

import asyncio
import struct

import storekeys
from bnode import BNodeLink
from config import raw
from datamodel import events, legal
from datamodel.model import Model
from smitp.al import Application
from smitp.security import Security
from smitp.tmac import crc32
from store import Store
from wallclock import WallClock


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
        self._hk = asyncio.Event()
        self.wallclock = WallClock(hw.rtc, hw.clock)
        self.model = Model(self, self.store, legal.checksum(crc32))
        self.metering = self.model.metering  # the metering code (later) writes measurements here
        self.bnode = BNodeLink(getattr(hw, "bnode", None))
        # DT of sealed answers comes from the one wall clock every feature uses
        self.sec = Security(
            self.store, self.aca, (raw(cfg, "key_write"), raw(cfg, "key_read")), self.wallclock.now
        )
        self.al = Application(self)
        self.al.on_change = self._hk.set
        self.mac = self._build_mac()
        self.model.log(events.BOOT, self.boots)
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
        self.tasks.append(asyncio.create_task(self.housekeeping()))
        return self.tasks

    async def housekeeping(self):
        """Time-driven data-model work (deferred activations, contract switch, B-Node updates):
        sleeps until the next one is due or a request changes the schedule, never polls."""
        while True:
            self.al.tick()
            due = self.al.next_due()
            self._hk.clear()
            if due is None:
                await self._hk.wait()
            else:
                await _wait_or_timeout(self._hk, self.clock, max(1, due) * 1000)

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
            "clock": self.wallclock.now(),
            "al": dict(self.al.stats),
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


def _default_rng(cfg):
    import random

    if cfg.get("seed") is not None:
        random.seed(cfg["seed"])
    return random.getrandbits
