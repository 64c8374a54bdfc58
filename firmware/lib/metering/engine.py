"""The energy engine: one supervised task that meters every wall-clock second, and the
power-fail task (docs/metering.md).

Every second of `meter.clock`, aligned on the edges of `meter.wallclock` seconds, the engine
reads `hw.metrology` into one preallocated Sample, refuses an implausible one, books it into
the integer registers (metering.energy) in the tariff in force at the second's start, feeds
power quality (metering.quality), writes groups 0x04, 0x0C and 0x17 of `meter.metering`, then
calls every `meter.on_second` listener with the UTC second that just ended. Its state (totals,
remainders, daily start, quality) is one store record (storekeys.ENERGY), written every
CHECKPOINT_S metering seconds when something moved, and by the first saver when the supply
fails (`powerfail`).

    from metering.engine import attach     # app.Meter._attach_features
    meter.energy.totals()                  # (A+, A-, Q1, Q2, Q3, Q4) Wh/varh, Seam D
    meter.energy.tariff_wh(t)              # A+ booked in tariff t = 1..4
"""

import struct

import storekeys
from civiltime import seconds as _civil_seconds
from datamodel import events, registers
from datamodel import metering as mt
from metrology.sample import ST_NO_VOLTAGE, Sample
from micropython import const

from metering.energy import N_REG, NO_DAY, T1, Energy
from metering.energy import SIZE as _E_SIZE
from metering.quality import LONG, SAG, SHORT, SWELL, Quality
from metering.quality import SIZE as _Q_SIZE

CHECKPOINT_S = const(60)  # metering seconds between checkpoints (persistence granularity)
NO_LOAD_MW = const(1000)  # |P| below 1 W (|Q| below 1 var) in a second is not booked (creep)
MAX_DT_MS = const(600_000)  # a sample covering more than 10 min is refused (Seam A)
RESERVE = const(1024)  # store bytes kept free for the savers' puts (appends, no compaction)
_ALIGN_EARLY_MS = const(10)  # to realign, wake this early before the expected edge and poll
_ALIGN_STEP_MS = const(5)
_ALIGN_FINE = const(40)  # fine polls (200 ms) before the step grows to _ALIGN_COARSE_MS
_ALIGN_COARSE_MS = const(250)  # an RTC that does not follow meter.clock (a simulation)
_REALIGN_S = const(64)  # realign this often (50 ppm of clock drift: 3 ms in 64 s)
_SUPPLY_POLL_MS = const(50)
_DAY = const(86400)
_HOUR = const(3600)

# state record: VERSION(1) FLAGS(1) LAST_S(4) | energy part | quality part
_VERSION = const(1)
_F_POWER_FAIL = const(1)  # written by the saver at a supply loss: an outage follows
_F_SAVED = const(2)  # written by the saver (supply loss or orderly stop): nothing came after
_HDR = const(6)
REC_SIZE = _HDR + _E_SIZE + _Q_SIZE

_PQ_EVENT = {
    LONG: events.INTERRUPTION_LONG,
    SHORT: events.INTERRUPTION_SHORT,
    SAG: events.VOLTAGE_SAG,
    SWELL: events.VOLTAGE_SWELL,
}

# parameter rows the engine reads every second, straight from the model's group blocks
_P_METER_CONSTANT = const(0x0300)
_P_NOMINAL_V = const(0x0301)
_P_MAX_A = const(0x0302)
_P_UTC_OFFSET = const(0x0101)
_P_SAG = const(0x0C03)
_P_SWELL = const(0x0C04)
_P_LONG_S = const(0x0C05)


def _u16(x):
    return 65535 if x > 65535 else (0 if x < 0 else x)


def _tdiv(a, b):
    # integer division rounding toward zero (a signed mean power in a coarser unit)
    return a // b if a >= 0 else -(-a // b)


class _Param:
    """A P register read from its group block without allocating (the model replaces a block
    on write, so the block is looked up every time)."""

    def __init__(self, model, oid):
        row = registers.find(oid)
        self.blocks = model.blocks
        self.g = oid >> 8
        self.off = row[6]
        self.n = row[3]
        self.signed = row[2] == registers.I16

    def get(self):
        b = self.blocks[self.g]
        o = self.off
        if self.n == 1:
            return b[o]
        v = b[o] << 8 | b[o + 1]
        return v - 65536 if self.signed and v & 0x8000 else v


class Engine:
    def __init__(self, meter):
        self.meter = meter
        self.energy = Energy()
        self.quality = Quality(self._pq_event)
        self.sample = Sample()
        self.last_t = 0  # UTC second the registers are booked up to (end of the last second)
        self.seconds = 0  # metering seconds booked since boot
        self.failed = 0  # reads the front-end refused or that raised, since boot
        self.refused = 0  # samples refused as implausible, since boot
        self.episode = 0  # 0, or 1/2: a failed-read/refused episode is in progress
        self._episode_s = 0
        self.power_w = 0  # last metering second, W (import positive)
        self.tariff = 0  # tariff of the last metering second, 1..4 (0: none yet)
        self.no_load = False
        self.restored = "first start"  # or "power fail", "saved", "checkpoint", "lost"
        self.saves = 0
        self.checkpoints = 0
        self.saver_ms = -1  # time the savers took at the last supply loss
        self._dirty = False
        self._ck_t = 0
        self._pf = False  # a supply loss was saved and the supply has not come back
        self._resync = False  # discard the first read after an outage (front-end unpowered)
        self._day_check = 0
        self._u_prev = 0
        self._anchor = 0
        self._tr = None  # meter.tariffs (Seam C), looked up when the task starts
        self._rec = bytearray(REC_SIZE)
        model = meter.model
        self._k = _Param(model, _P_METER_CONSTANT)
        self._un = _Param(model, _P_NOMINAL_V)
        self._imax = _Param(model, _P_MAX_A)
        self._utc_off = _Param(model, _P_UTC_OFFSET)
        self._sag = _Param(model, _P_SAG)
        self._swell = _Param(model, _P_SWELL)
        self._long = _Param(model, _P_LONG_S)
        self._restore()
        self._publish()

    # --- Seam D ----------------------------------------------------------------------------

    def totals(self):
        """(A+ Wh, A- Wh, Q1, Q2, Q3, Q4 varh)."""
        return self.energy.totals()

    def tariff_wh(self, t):
        """A+ booked in tariff t = 1..4, Wh."""
        return self.energy.value(T1 - 1 + t)

    # --- Seam C, with the fallbacks used until meter.tariffs exists -------------------------

    def _tariff(self, u):
        tr = self._tr
        if tr is None:
            return 1  # Seam C fallback: everything in tariff 1
        t = tr.current(u)
        return t if 1 <= t <= 4 else 1

    def _local_day(self, u):
        """(local day number since 2000-01-01, seconds to the next local midnight) of UTC u."""
        tr = self._tr
        if tr is None:  # Seam C fallback: local standard time from utc_offset_min, no DST
            loc = u + self._utc_off.get() * 60
            return loc // _DAY, _DAY - loc % _DAY
        lt = tr.local(u)
        day = _civil_seconds(lt[0], lt[1], lt[2]) // _DAY
        return day, _DAY - (lt[3] * 3600 + lt[4] * 60 + lt[5])

    def _check_day(self, u):
        # the local date is looked up at most hourly (and after a clock step back), so a DST
        # change during the day moves the midnight it predicts before that midnight comes
        if u < self._day_check and u >= self._u_prev:
            self._u_prev = u
            return
        self._u_prev = u
        day, left = self._local_day(u)
        self._day_check = u + (left if left < _HOUR else _HOUR)
        if day != self.energy.day:
            self.energy.new_day(day)
            self._dirty = True

    # --- the metering task ----------------------------------------------------------------

    async def run(self):
        """Supervised task: meter every wall-clock second, forever. One coroutine, no awaited
        helpers of its own; the clock's sleeps allocate nothing, so per second only an async
        front-end's read() creates an object (docs/metering.md §9, heap)."""
        m = self.meter
        hw = m.hw
        clock = m.clock
        wc = m.wallclock
        s = self.sample
        # features attach after energy: their objects exist once the tasks start
        self._tr = getattr(m, "tariffs", None)
        t = wc.now()
        # a front-end with a synchronous measure(sample) (the direct-ADC path) or an awaitable
        # reader(sample) (the STPM3x) is read without a coroutine; bound methods made once
        sync_met = measure = reader = None
        first = True
        early = 0  # ms the last wake-up came before the expected edge (0: on it)
        realign = 0  # seconds until the next early wake-up
        while True:
            # the wall-clock edge after second t. Still to come: poll it at _ALIGN_STEP_MS
            # (the anchor is then exact to a step; after 200 ms without it, at 250 ms, so an
            # RTC that does not follow meter.clock costs few wake-ups). Already past after an
            # early wake-up: the RTC runs ahead, so move the anchor earlier and wake early
            # again next second. Already past after an on-time wake-up: take it as on time
            # (one sleep per second; the early wake-up every _REALIGN_S seconds catches drift).
            u = wc.now()
            if u == t:
                n = 0
                while u == t:
                    fine = first or n < _ALIGN_FINE
                    await clock.sleep_ms(_ALIGN_STEP_MS if fine else _ALIGN_COARSE_MS)
                    u = wc.now()
                    n += 1
                self._anchor = clock.now_ms()
                realign = _REALIGN_S
            else:
                self._anchor += 1000 - early
                if early:
                    realign = 0
                now = clock.now_ms()
                if self._anchor < now - 1000 or self._anchor > now:
                    self._anchor = now  # a late loop or a clock step: start over from now
                    realign = 0
            t = u
            if first:
                self._ck_t = t - 1  # the first checkpoint covers 60 metered seconds too
                first = False
            sup = hw.supply
            if sup is None or sup.present():  # supply gone: nothing measured until it is back
                self._check_day(t - 1)
                met = hw.metrology
                ok = -1  # a board without a front-end still keeps time for the listeners
                if met is not None:
                    try:
                        if met is not sync_met:  # looked up again if hw.metrology changes
                            sync_met = met
                            measure = getattr(met, "measure", None)
                            reader = getattr(met, "reader", None)
                        if measure is not None:
                            r = measure(s)  # no coroutine to create: nothing allocated
                        elif reader is not None:
                            r = await reader(s)  # a preallocated awaitable (STPM3x)
                        else:
                            r = await met.read(s)
                        ok = 1 if r else 0
                    except Exception as e:  # a front-end that raises is a failed read
                        m.faults.record(e, "energy.read")
                        ok = 0
                self._second(t, ok)
            realign -= 1
            early = _ALIGN_EARLY_MS if realign <= 0 else 0
            wait = self._anchor + 1000 - early - clock.now_ms()
            if wait > 0:
                await clock.sleep_ms(wait)

    def _second(self, t, ok):
        """Second [t - 1, t) is over and read (ok: 1 read, 0 failed, -1 no front-end)."""
        m = self.meter
        s = self.sample
        self.tariff = self._tariff(t - 1)
        if ok == 1 and self._resync:
            self._resync = False  # it covers the outage, when the front-end had no supply
            s.clear()
        elif ok == 1 and self._plausible(s):
            self._book(s, t)
        elif ok == 0:
            self._bad(1)
        elif ok == 1:
            self._bad(2)
        self.last_t = t
        self._publish()
        for fn in m.on_second:
            try:
                fn(t)
            except Exception as e:
                m.faults.record(e, "energy.on_second")
        if self._dirty and t - self._ck_t >= CHECKPOINT_S:
            self.checkpoint(t)

    def _plausible(self, s):
        dt = s.dt_ms
        if dt <= 0 or dt > MAX_DT_MS:
            return False
        pmax_w = self._un.get() * self._imax.get() * 12 // 10
        lim = pmax_w * dt  # W x ms = mW·s
        if s.ep_mws > lim or -s.ep_mws > lim or s.eq_mvars > lim or -s.eq_mvars > lim:
            return False
        pm = pmax_w * 1000
        if s.p_mw > pm or -s.p_mw > pm or s.q_mvar > pm or -s.q_mvar > pm:
            return False
        vmax = self._un.get() * 2000  # twice nominal, in mV
        if not (0 <= s.v_mv <= vmax and s.v_max_mv <= vmax and 0 <= s.i_ma):
            return False
        return s.f_mhz >= 0

    def _bad(self, kind):
        if kind == 1:
            self.failed += 1
        else:
            self.refused += 1
        if not self.episode:
            self.episode = kind
            self._episode_s = 0
            self.meter.model.log(events.METROLOGY_FAULT, kind)
        self._episode_s += 1
        self.power_w = 0
        self.sample.clear()  # instantaneous registers read zero, not a stale value

    def _book(self, s, t):
        if self.episode:
            self.meter.model.log(events.METROLOGY_OK, _u16(self._episode_s))
            self.episode = 0
        thr = NO_LOAD_MW * s.dt_ms // 1000
        ep = s.ep_mws
        eq = s.eq_mvars
        self.no_load = -thr < ep < thr
        if self.no_load:
            ep = 0
        if -thr < eq < thr:
            eq = 0
        if ep or eq:
            self.energy.book(ep, eq, self.tariff, self._k.get())
            self._dirty = True
        self.seconds += 1
        self.power_w = _tdiv(s.p_mw, 1000)
        q = self.quality
        q.limits(self._un.get(), self._sag.get(), self._swell.get(), self._long.get())
        q.second(t, s.v_mv, s.v_min_mv, s.v_max_mv, s.status & ST_NO_VOLTAGE)

    def _pq_event(self, kind, start, duration, extreme_mv):
        rec = bytearray(12)
        struct.pack_into(">IBBIH", rec, 0, start, kind, 1, duration, _u16(extreme_mv // 100))
        model = self.meter.model
        model.tables[registers.VOLTAGE_EVENTS].append(rec)
        model.log(_PQ_EVENT[kind], _u16(duration))
        self._dirty = True
        self._ck_t = 0  # checkpoint at the end of this second: counters follow the table

    # --- registers and status -------------------------------------------------------------

    def _publish(self):
        ms = self.meter.metering
        b = ms.buf
        e = self.energy
        wh = e.wh
        whh = e.whh
        p = struct.pack_into
        for i in range(N_REG):
            # A+ A- Q1..Q4 T1..T4 are laid out in this order; u32 as two u16: no long int
            p(">HH", b, i * 4, whh[i], wh[i])
        if e.day != NO_DAY:
            p(">I", b, mt.DAILY_IMPORT, e.daily(0))
            p(">I", b, mt.DAILY_EXPORT, e.daily(1))
            p(">I", b, mt.DAILY_REACTIVE, e.daily(2))
        c = self.quality.counts
        p(">H", b, mt.LONG_INTERRUPTIONS, c[0])
        p(">H", b, mt.SHORT_INTERRUPTIONS, c[1])
        p(">H", b, mt.SAGS, c[2])
        p(">H", b, mt.SWELLS, c[3])
        p(">H", b, mt.POWER_FAILS, c[4])
        p(">I", b, mt.LAST_POWER_FAIL, self.quality.last_pf)
        p(">I", b, mt.LAST_OUTAGE_S, self.quality.last_outage)
        p(">HH", b, mt.LED_PULSES, e._ph, e._pl)
        s = self.sample
        v_dv = s.v_mv // 100
        i_ca = s.i_ma // 10
        p(">H", b, mt.VOLTAGE, _u16(v_dv))
        p(">H", b, mt.CURRENT, _u16(i_ca))
        p(">i", b, mt.POWER, self.power_w)
        p(">i", b, mt.REACTIVE_POWER, _tdiv(s.q_mvar, 1000))
        va = v_dv * i_ca // 1000  # 0.1 V x 0.01 A = 1 mVA
        pf = _tdiv(self.power_w * 1000, va) if va else 0
        p(">h", b, mt.POWER_FACTOR, 1000 if pf > 1000 else (-1000 if pf < -1000 else pf))
        p(">H", b, mt.FREQUENCY, _u16(s.f_mhz // 10))
        ms.updates += 1

    def status_bits(self):
        """(status word bits, extended status bits) this engine sets (registers.SW_*, XS_*)."""
        return self.sw_bits(), self.xs_bits()

    def sw_bits(self):
        """The status-word bits alone (no tuple: the display reads them every second)."""
        sw = 0
        met = self.meter.hw.metrology
        if self.episode or (met is not None and met.fault()):
            sw |= registers.SW_METROLOGY_FAULT
        if self.restored == "checkpoint" or self.restored == "lost":
            sw |= registers.SW_ENERGY_CHECKPOINT
        if self.quality.active():
            sw |= registers.SW_VOLTAGE_EVENT
        if self.power_w < 0:
            sw |= registers.SW_REVERSE_FLOW
        return sw

    def xs_bits(self):
        xs = 0
        met = self.meter.hw.metrology
        if self.no_load:
            xs |= registers.XS_NO_LOAD
        if self.failed or self.refused or (met is not None and met.errors):
            xs |= registers.XS_METROLOGY_ERRORS
        return xs

    # --- persistence ----------------------------------------------------------------------

    def _pack(self, flags):
        r = self._rec
        struct.pack_into(">BBI", r, 0, _VERSION, flags, self.last_t)
        self.energy.pack_into(r, _HDR)
        self.quality.pack_into(r, _HDR + _E_SIZE)
        return r

    def checkpoint(self, t):
        """Write the state now (periodic, after an outage); keeps RESERVE free for the savers."""
        st = self.meter.store
        st.ensure_free(RESERVE)
        st.put(storekeys.ENERGY, self._pack(_F_POWER_FAIL if self._pf else 0))
        self._ck_t = t
        self._dirty = False
        self.checkpoints += 1

    def save(self):
        """meter.savers[0]: one store put (an append: RESERVE is kept free), nothing else."""
        flags = _F_SAVED | (_F_POWER_FAIL if self._pf else 0)
        self.meter.store.put(storekeys.ENERGY, self._pack(flags))
        self._dirty = False
        self.saves += 1

    def _restore(self):
        m = self.meter
        v = m.store.get(storekeys.ENERGY)
        if v is None:
            return
        ok = len(v) == REC_SIZE and v[0] == _VERSION
        if ok:
            ok = self.energy.unpack_from(v, _HDR) and self.quality.unpack_from(v, _HDR + _E_SIZE)
        if not ok:
            self.energy = Energy()
            self.quality = Quality(self._pq_event)
            self.restored = "lost"
            m.model.log(events.ENERGY_STATE_LOST, 0)
            return
        flags, self.last_t = struct.unpack_from(">BI", v, 1)
        now = m.wallclock.now()
        if flags & _F_POWER_FAIL:
            self.restored = "power fail"
            self._outage_over(now)
        elif flags & _F_SAVED:
            self.restored = "saved"  # an orderly stop ran the savers: nothing was lost
        else:
            self.restored = "checkpoint"
            gap = now - self.last_t
            m.model.log(events.UNSAVED_RESTART, _u16(gap))

    def _outage_over(self, now):
        q = self.quality
        q.outage(now)
        self._pf = False
        self.meter.model.log(events.POWER_RESTORED, _u16(q.last_outage))
        self.checkpoint(now)

    # --- power failure ----------------------------------------------------------------------

    async def powerfail(self):
        """Supervised task: at a supply loss run meter.savers in order (this engine's first),
        then, if the hold-up outlasts the outage, log it and resume metering."""
        m = self.meter
        sup = m.hw.supply
        clock = m.clock
        while True:
            await sup.wait_loss()
            t0 = clock.now_ms()
            self._pf = True
            self.quality.power_fail(m.wallclock.now())
            for fn in m.savers:
                try:
                    fn()
                except Exception as e:
                    m.faults.record(e, "energy.saver")
            self.saver_ms = clock.now_ms() - t0
            m.model.log(events.POWER_FAIL, _u16(self.saver_ms * 10))
            while not sup.present():
                await clock.sleep_ms(_SUPPLY_POLL_MS)
            self._resync = True
            self._outage_over(m.wallclock.now())


def attach(meter):
    """Build the engine as `meter.energy`, put its saver first, return its tasks."""
    e = Engine(meter)
    meter.energy = e
    meter.savers.insert(0, e.save)
    tasks = [("energy", e.run)]
    if meter.hw.supply is not None:
        tasks.append(("powerfail", e.powerfail))
    run = getattr(meter.hw.metrology, "run", None)  # interfaces.Metrology: optional
    if run is not None:
        tasks.append(("metrology", run))
    return tasks
