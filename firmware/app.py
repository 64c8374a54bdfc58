"""The meter: builds the layers on a board's hardware and runs them in one asyncio loop.

    PHY (board) --frames--> MAC (link, repetition, network management) --LSDU--> application
The same object runs on every board; `make repl` leaves it reachable as `meter`.

Supervision: the meter's tasks run under `self.supervisor` (lib/supervisor.py), which restarts
a task that dies, resets the board through `reset` when one keeps dying, and feeds
`hw.watchdog`. Every exception firmware code catches lands in `self.faults` (type, place, time):
`meter.faults.recent()` at the REPL, and in `meter.status()`. `strict=True` (tests) re-raises
them instead.
"""

import asyncio
import struct

import storekeys
from bnode import BNodeLink
from clock import wait_or_timeout
from config import mac_params, radio_refusal, raw
from datamodel import events, legal
from datamodel.model import Model
from faults import Faults
from smitp.al import Application
from smitp.security import Security
from smitp.tmac import crc32
from store import Store
from supervisor import Supervisor
from wallclock import WallClock


class Meter:
    def __init__(self, hw, cfg, rng=None, reset=None, strict=False):
        self.hw = hw
        self.cfg = cfg
        self.clock = hw.clock
        self.faults = Faults(now_ms=self.clock.now_ms, strict=strict)
        self.supervisor = Supervisor(self.faults, self.clock, reset or _no_reset, _watchdog(hw))
        self.radio_off = radio_refusal(cfg, hw.name)  # why the PLC stays off, or None
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
        # run in order, synchronously, when the supply fails (and on an orderly stop): each
        # commits what must survive a power cut, within the hold-up budget (docs/metering.md)
        self.savers = []
        # called every metering second after the energy engine accumulated: fn(utc_s)
        self.on_second = []
        self.model.log(events.BOOT, self.boots)
        self.feature_tasks = self._attach_features()

    def _attach_features(self):
        """Every feature behind the modem, in dependency order (metering before what reads it).
        Each `attach(meter)` builds its objects on the meter and returns [(task name, factory)]
        for the supervisor. One line per feature."""
        tasks = []
        from metrology.calib import attach as _a

        tasks += _a(self)
        from metering.engine import attach as _a

        tasks += _a(self)  # energy first: every later feature reads its totals
        from tariff import attach as _a  # calendar, tariffs, billing (docs/tariffs.md)

        tasks += _a(self)
        from profiles import attach as _a

        tasks += _a(self)  # profiles: after energy and tariffs, which it reads
        from cutoff import attach as _a

        tasks += _a(self)  # the relay and its limit (uses metering, so after it)
        from screens.feature import attach as _a

        tasks += _a(self)  # the display (reads what the features above produce)
        from dl.feature import attach as _a

        tasks += _a(self)  # software download (docs/download.md)
        return tasks

    def _count_boot(self):
        old = self.store.get(storekeys.BOOT_COUNT)
        n = (struct.unpack(">I", old)[0] if old else 0) + 1
        self.store.put(storekeys.BOOT_COUNT, struct.pack(">I", n))
        return n

    def _build_mac(self):
        from mac.link import Mac

        phy = self.hw.phy
        return Mac(
            self.aca,
            phy.airtime_ms if phy is not None else _no_airtime,
            store=self.store,
            rng=self.rng,
            app=self.application,
            params=mac_params(self.cfg),
            faults=self.faults,
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
                await wait_or_timeout(self._wake, self.clock, deadline - now)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self):
        """Start the meter's supervised tasks on the running loop (the PLC pair only when a
        PHY exists and the radio is allowed on)."""
        sup = self.supervisor
        sup.install()
        if self.hw.phy is not None and self.radio_off is None:
            sup.spawn("plc_rx", self.plc_rx)
            sup.spawn("plc_tx", self.plc_tx)
        sup.spawn("housekeeping", self.housekeeping)
        for name, factory in self.feature_tasks:
            sup.spawn(name, factory)
        if self.hw.optical is not None:
            from optical.build import optical_port

            self.optical = optical_port(self)
            sup.spawn("optical", self.optical.run)

    async def open(self):
        """Bind what can fail at start-up (a TCP listener's port) before the tasks run, so the
        error reaches the caller instead of a supervised task."""
        start = getattr(self.hw.phy, "start", None)
        if start is not None and self.radio_off is None:
            r = start()
            if r is not None:
                await r

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
                await wait_or_timeout(self._hk, self.clock, max(1, due) * 1000)

    async def run(self, console=None):
        """Run until a reset is requested, or until the console ends when there is one."""
        self.start()
        if console is None:
            await self.supervisor.run()
            return
        asyncio.create_task(self.supervisor.run())
        await console.run()
        self.supervisor.stop()

    def status(self):
        return {
            "board": self.hw.name,
            "aca": self.aca.hex(),
            "boots": self.boots,
            "now_ms": self.clock.now_ms(),
            "radio_off": self.radio_off,
            "mac": getattr(self.mac, "stats", None),
            "store": self.store.stats(),
            "faults": self.faults.count,
            "recent_faults": self.faults.recent(),
            "tasks": self.supervisor.status(),
            "sec": self.sec.status(),
            "clock": self.wallclock.now(),
            "al": dict(self.al.stats),
        }


def _watchdog(hw):
    """The board's watchdog; only unix_sim may have none (docs/architecture.md)."""
    wd = getattr(hw, "watchdog", None)
    if wd is None and hw.name != "unix_sim":
        raise ValueError("board %s gives no watchdog" % hw.name)
    return wd


def _no_reset():
    """unix_sim without an injected reset: leave the process, as a board reset would end it."""
    import sys

    print("supervisor: reset requested, leaving")
    sys.exit(3)


def _no_airtime(nbytes):
    raise ValueError("no PHY: nothing goes on the air")


def _default_rng(cfg):
    import random

    if cfg.get("seed") is not None:
        random.seed(cfg["seed"])
    return random.getrandbits
