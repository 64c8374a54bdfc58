"""meter.billing: billing-period close (scheduled and on command), billing data sets and the
maximum demand per tariff (docs/tariffs.md §5-§7).

Called once per metering second through meter.on_second with u = the second that just began:
the second [u - 1, u) has been accumulated by the energy engine (Seam A/D). In that order:
  1. demand: its import power goes into the demand block of [u - 1, u), credited to the
     tariff in force at u - 1; a block that ends at u is closed (its demand compared with the
     maxima);
  2. the scheduled billing close, when u has reached the next scheduled instant.
So a close at a period boundary includes that boundary's last demand block and the energy of
every second before it, and none after.
"""

import struct

import civiltime
import storekeys
from datamodel import events
from datamodel import metering as mt
from micropython import const

CAUSE_SCHEDULED = const(1)
CAUSE_COMMAND = const(2)
CAUSE_CONTRACT = const(3)
_EVENT = {
    CAUSE_SCHEDULED: events.BILLING_SCHEDULED,
    CAUSE_COMMAND: events.BILLING_CLOSE,
    CAUSE_CONTRACT: events.BILLING_CONTRACT,
}

RECSIZE = const(61)
_LAST_BILLING = const(0x0603)
_BILLING_COUNT = const(0x0604)
_BILLING_DATA = const(0x1400)
_MODE = const(0x0600)
_DAY = const(0x0601)
_HOUR = const(0x0602)
_PERIOD = const(0x1602)
_REC = ">IBIIIIII" + "II" * 4
_STATE = ">IIIIIIIIIIIIIII"  # block, ws1..4, (w, t) x 4 tariffs, total (w, t)


def energies(meter):
    """(A+ Wh, A- Wh, T1, T2, T3, T4 import Wh) now: the registers of group 0x04, which the
    energy engine publishes from meter.energy's totals (Seam D) before every on_second call,
    so a data set holds exactly what the concentrator reads at that second."""
    g = meter.model.metering.get
    return (
        g(mt.ACTIVE_IMPORT, 4),
        g(mt.ACTIVE_EXPORT, 4),
        g(mt.IMPORT_T1, 4),
        g(mt.IMPORT_T2, 4),
        g(mt.IMPORT_T3, 4),
        g(mt.IMPORT_T4, 4),
    )


class Billing:
    def __init__(self, meter, tariffs):
        self.meter = meter
        self.model = meter.model
        self.tariffs = tariffs  # this feature's calendar (tariff.tariffs.Tariffs)
        self.ws = [0, 0, 0, 0]  # import W.s of the open demand block, per tariff
        self.block = 0  # its index: UTC second // period
        self.md_w = [0, 0, 0, 0]  # maximum demand per tariff this billing period, W
        self.md_t = [0, 0, 0, 0]  # end of its block, UTC
        self.closes = 0  # closes since boot (scheduled and command)
        self._period = 0
        self._b16 = None
        self._b6 = None
        self._b1 = None
        self._next = 0  # next scheduled close (UTC), 0 none
        self._base = 0  # first valid second seen, when no period was ever closed
        self._c2 = 0  # contract 2's start, as last seen before the housekeeping clears it
        self._c2_done = 0  # the one whose switch closed a period
        self._load()
        self._recover()

    # --- persistence: one store value, written when a maximum moves, at a close, on supply loss

    def _load(self):
        v = self.meter.store.get(storekeys.BILLING_STATE)
        if v is None or len(v) != struct.calcsize(_STATE):
            return
        f = struct.unpack(_STATE, v)
        self.block = f[0]
        for i in range(4):
            self.ws[i] = f[1 + i]
            self.md_w[i] = f[5 + 2 * i]
            self.md_t[i] = f[6 + 2 * i]
        me = self.model.metering
        me.set(mt.MAX_DEMAND, 4, f[13])
        me.set(mt.MAX_DEMAND_TIME, 4, f[14])

    def save(self):
        me = self.model.metering
        w = self.ws
        m = self.md_w
        t = self.md_t
        self.meter.store.put(
            storekeys.BILLING_STATE,
            struct.pack(
                _STATE,
                self.block,
                w[0],
                w[1],
                w[2],
                w[3],
                m[0],
                t[0],
                m[1],
                t[1],
                m[2],
                t[2],
                m[3],
                t[3],
                me.get(mt.MAX_DEMAND, 4),
                me.get(mt.MAX_DEMAND_TIME, 4),
            ),
        )

    # --- maximum demand (block demand, docs/tariffs.md §6) ---------------------------------

    def period_s(self):
        b = self.model.blocks[0x16]
        if b is not self._b16:
            self._b16 = b
            self._period = self.model.get_int(_PERIOD) * 60
        return self._period

    def _end_block(self, end):
        """Close the open block (ended at `end`, or cut short by a step/outage): its demand per
        tariff is its W.s / period, compared with the maxima."""
        p = self._period
        ws = self.ws
        moved = False
        total = 0
        for i in range(4):
            total += ws[i]
            d = ws[i] // p
            if d > self.md_w[i]:
                self.md_w[i] = d
                self.md_t[i] = end
                moved = True
            ws[i] = 0
        me = self.model.metering
        d = total // p
        if d > me.get(mt.MAX_DEMAND, 4):
            me.set(mt.MAX_DEMAND, 4, d)
            me.set(mt.MAX_DEMAND_TIME, 4, end)
            moved = True
        if moved:
            self.save()

    def _demand(self, u):
        old = self._period
        p = self.period_s()
        s = u - 1
        if s // p != self.block or (old and p != old):
            if self.block:  # cut short by a clock step, an outage or a new period length
                self._period = old or p
                self._end_block((self.block + 1) * self._period)
                self._period = p
            self.block = s // p
        b = self.model.metering.buf
        o = mt.POWER
        if b[o] < 0x80:  # import (a negative power is export: no import demand)
            t = self.tariffs.current(s)
            self.ws[t - 1] += b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3]
        if u % p == 0:
            self._end_block(u)
            self.block = u // p

    def reset_demand(self):
        for i in range(4):
            self.md_w[i] = 0
            self.md_t[i] = 0
        me = self.model.metering
        me.set(mt.MAX_DEMAND, 4, 0)
        me.set(mt.MAX_DEMAND_TIME, 4, 0)
        self.save()

    # --- the billing close -----------------------------------------------------------------

    def record(self, t, cause):
        e = energies(self.meter)
        m = self.md_w
        d = self.md_t
        return struct.pack(
            _REC, t, cause, e[0], e[1], e[2], e[3], e[4], e[5],
            m[0], d[0], m[1], d[1], m[2], d[2], m[3], d[3],
        )  # fmt: skip

    def close(self, t, cause):
        """Close the billing period at UTC second t. Each step is one atomic store write: the
        data set, then the maxima reset, then the counters (last_billing_time = t marks the close
        complete), then the event; a cut after the data set is completed at the next start."""
        self.model.tables[_BILLING_DATA].append(self.record(t, cause))
        self._finish(t, cause)
        return 0

    def _finish(self, t, cause):
        md = self.model
        self.reset_demand()
        n = (md.get_int(_BILLING_COUNT) + 1) & 0xFFFF
        md.set_ints(((_LAST_BILLING, t), (_BILLING_COUNT, n)))
        md.log(_EVENT.get(cause, events.BILLING_SCHEDULED), n)
        self.closes += 1

    def _recover(self):
        # a data set whose TIME is not last_billing_time: power was cut inside close()
        last = self.model.tables[_BILLING_DATA].last()
        if last is not None:
            t = struct.unpack_from(">I", last, 0)[0]
            if t != self.model.get_int(_LAST_BILLING):
                self._finish(t, last[4])

    # --- the schedule (local time, docs/tariffs.md §5) --------------------------------------

    def next_close(self, after):
        """First scheduled close instant (UTC) after UTC second `after`, 0 if on command only."""
        md = self.model
        mode = md.get_int(_MODE)
        if not mode:
            return 0
        day = md.get_int(_DAY)
        hour = md.get_int(_HOUR)
        tf = self.tariffs
        f = tf.local(after)
        y = f[0]
        mo = f[1]
        while True:
            if mode == 1 or mo % 2 == 1:
                c = tf.zone.utc(civiltime.seconds(y, mo, day, hour))
                if c > after:
                    return c
            mo += 1
            if mo > 12:
                mo = 1
                y += 1

    def _schedule(self, u):
        md = self.model
        b6 = md.blocks[0x06]
        b1 = md.blocks[0x01]
        if b6 is not self._b6 or b1 is not self._b1:
            self._b6 = b6
            self._b1 = b1
            last = md.get_int(_LAST_BILLING)
            if not last and not self._base:
                self._base = u
            self._next = self.next_close(last or self._base)
        if self._next and u >= self._next:
            self.close(u, CAUSE_SCHEDULED)

    def on_second(self, u):
        self._demand(u)
        c2 = self.tariffs.contract2_start()
        if c2 != self._c2 and (c2 or u < self._c2):  # new, moved, or cancelled before its time
            self._c2 = 0 if c2 == self._c2_done else c2
        if not self.meter.wallclock.valid():
            return
        if self._c2 and u >= self._c2:  # contract 2 in force from second _c2 on
            self._c2_done = self._c2
            self._c2 = 0
            self.close(u, CAUSE_CONTRACT)
        self._schedule(u)
