"""The link core: a poll-driven, allocation-conscious slave data link (docs/datalink.md).

    mac = Mac(aca, phy.airtime_ms, store=None, rng=None, app=None, params=None, faults=None)
    mac.on_rx(frame_bytes, info, now_ms)   # never raises (faults are recorded in `faults`)
    frame = mac.poll(now_ms)               # bytes to put on the PHY now, or None
    mac.next_deadline_ms()                 # when poll() next has something to do, or None
    mac.tx_done(now_ms)                    # PHY finished sending (optional)

The asyncio wrapper only moves frames and sleeps until next_deadline_ms(). Nothing here reads
a clock. One transmit slot: answers, repeated frames and the REQADDR round share it.

Answers and repeated frames are timed from the end of the received frame on the air
(info.t_end_ms, docs/datalink.md §4), not from when the PHY handed it up: the hand-up delay
(decoding, the host interface) eats into TEL instead of adding to it. Time on air is the PHY's
(airtime_ms(nbytes), given by the PHY backend); the MAC has no airtime of its own.
"""

from faults import Faults
from micropython import const

from mac import address, timing
from mac.frame import (
    DSAP_APP,
    DSAP_NM,
    MAX_FRAME,
    OK,
    REASONS,
    Frame,
    copy_with_hop,
    encode,
    encode_answer,
)
from mac.heard import Heard
from mac.netmgmt import ADDRESS_REQ, ANSWERING, COLLECTING, IDLE, START_ROUND, NetMgmt
from mac.params import Params
from mac.repeater import Busy, DupRing, frame_key

_TXBUF = const(256)

_COUNTERS = (
    "rx",
    "rx_ok",
    "not_mine",
    "dup",
    "delivered",
    "repeated",
    "relayed",
    "busy_drop",
    "answered",
    "tx",
    "tx_overrun",
    "tx_late",
    "resp_too_long",
    "resp_s",
    "app_error",
    "internal",
    "nm_bad",
    "nm_busy",
    "nm_filtered",
    "nm_collected",
    "nm_extra",
    "tct_set",
    "tct_refused",
    "reqaddr_rounds",
    "store_err",
)


class Stats:
    """Counters. rx_rejected maps every reason name to a count (preset: no insertion later)."""

    def __init__(self):
        for k in _COUNTERS:
            setattr(self, k, 0)
        self.rx_rejected = {}
        for r in REASONS[1:]:
            self.rx_rejected[r] = 0

    def as_dict(self):
        d = {}
        for k in _COUNTERS:
            d[k] = getattr(self, k)
        d["rx_rejected"] = dict(self.rx_rejected)
        return d

    def __repr__(self):
        return repr(self.as_dict())


class Ctx:
    """What the application hook learns about a request (reused between calls)."""

    def __init__(self):
        self.addr = None
        self.broadcast = False
        self.route = None
        self.nrp = 0
        self.esize = 6
        self.dsap = 0
        self.ecc = 0
        self.ecc_out = 0
        self.poll = 0
        self.disc = 0
        self.max_resp = 0
        self.slots = 0
        self.rssi = None
        self.snr = None
        self.in_phase = None
        self.now_ms = 0
        self.t_end_ms = 0  # end of the request on the air


class Mac:
    def __init__(
        self,
        aca,
        airtime_ms,
        store=None,
        rng=None,
        app=None,
        params=None,
        faults=None,
        tct_key=None,
    ):
        p = params or Params()
        self.aca = address.aca_wire(aca, False)  # already wire order
        self.airtime_ms = airtime_ms
        self.sca = p.sca
        self.tel = p.tel_ms
        self.tc = p.tc_ms
        self.add = p.add_ms
        self.faults = faults if faults is not None else Faults()
        if rng is None:
            import random

            rng = random.getrandbits
        self._rand = rng if callable(rng) else rng.getrandbits
        self.app = app
        self.stats = Stats()
        self.dup = DupRing(p.dup_ms)
        self.busy = Busy()
        self.heard = Heard()
        kw = {} if tct_key is None else {"key": tct_key}
        al0 = address.al0(self.aca, p.aca_al0)
        self.nm = NetMgmt(self.aca, al0, self.stats, store, faults=self.faults, **kw)
        self._rx = Frame()
        self._f2 = Frame()
        self._ctx = Ctx()
        self._ans = bytearray(MAX_FRAME)
        self._tx = bytearray(_TXBUF)
        self._txmv = memoryview(self._tx)
        self._txn = 0
        self._tx_at = -1  # -1 = slot free
        self._onair_until = 0

    # --- public --------------------------------------------------------------------------------

    @property
    def tct(self):
        return self.nm.tct

    @property
    def tx_imp(self):
        return self.nm.tx_imp

    @tx_imp.setter
    def tx_imp(self, v):
        self.nm.tx_imp = v

    def on_rx(self, frame_bytes, info, now_ms):
        """A frame from the PHY (CRC already checked there) whose end on the air was
        info.t_end_ms (now_ms when info is None). Never raises: faults are recorded."""
        try:
            t_end = now_ms if info is None else info.t_end_ms
            self._on_rx(frame_bytes, info, now_ms, t_end)
        except Exception as e:
            self.stats.internal += 1
            self.faults.record(e, "mac.rx")

    def poll(self, now_ms):
        """The frame to transmit now (bytes), or None."""
        try:
            self._tick(now_ms)
        except Exception as e:
            self.stats.internal += 1
            self.faults.record(e, "mac.tick")
        if self._tx_at < 0 or now_ms < self._tx_at or now_ms < self._onair_until:
            return None
        if now_ms > self._tx_at and self._tx_at >= self._onair_until:
            self.stats.tx_late += 1  # polled after the due time with the PHY idle: late
        n = self._txn
        self._tx_at = -1
        self._txn = 0
        self._onair_until = now_ms + self.airtime_ms(n)
        self.stats.tx += 1
        return bytes(self._txmv[:n])

    def next_deadline_ms(self):
        """Earliest time poll() has work, or None."""
        t = None
        if self._tx_at >= 0:
            t = self._tx_at if self._tx_at > self._onair_until else self._onair_until
        nm = self.nm
        if nm.round == COLLECTING or (nm.round == ANSWERING and self._tx_at < 0):
            d = nm.deadline
            if t is None or d < t:
                t = d
        return t

    def tx_done(self, now_ms):
        self._onair_until = now_ms

    def tx_pending(self):
        return self._tx_at >= 0

    def snapshot(self):
        """State for tests: everything that valid-but-foreign or invalid frames must not touch."""
        st = self.stats.as_dict()
        del st["rx_rejected"]
        del st["rx"]
        return (
            self.nm.snapshot(),
            self.dup.snapshot(),
            self.busy.snapshot(),
            self._tx_at,
            bytes(self._txmv[: self._txn]),
            st,
        )

    # --- receive -------------------------------------------------------------------------------

    def _is_me(self, f, idx):
        """Is route entry idx this node?"""
        b = f.buf
        off = f.entry_off(idx)
        if f.esize == 6:
            return address.eq6(b, off, self.aca)
        s = self.sca
        if s is None:
            return False
        return (
            b[1] == s[0]
            and b[2] == s[1]
            and b[3] == s[2]
            and b[off] == s[3]
            and (b[off + 1] == s[4])
        )

    def _addr_mine(self, f):
        b = f.buf
        if address.eq6(b, 1, self.aca) or address.is_broadcast(b, 1):
            return True
        return self.sca is not None and address.eq6(b, 1, self.sca)

    def _on_rx(self, frame_bytes, info, now_ms, t_end):
        st = self.stats
        st.rx += 1
        f = self._rx
        r = f.parse(frame_bytes)
        if r != OK:
            st.rx_rejected[REASONS[r]] += 1
            return
        st.rx_ok += 1
        self.heard.note(f, info)
        if not f.up:
            if f.hop == 0:
                self.nm.observe(info)
            if f.hop < f.nrp:
                if self._is_me(f, f.hop):
                    self._repeat_down(f, now_ms, t_end)
                    return
            elif self._addr_mine(f):
                if address.eq6(f.buf, 1, self.aca):
                    self.heard.level = f.nrp + 1  # our path position: hops from the master
                if self.dup.seen(frame_key(f.buf, f.n), now_ms):
                    st.dup += 1
                    return
                self._deliver(f, info, now_ms, t_end)
                return
        else:
            if f.hop >= 2:
                if self._is_me(f, f.hop - 2):
                    self._relay_up(f, now_ms, t_end)
                    return
            elif f.nrp == 0 and self.nm.round == COLLECTING:
                if self.nm.collect(f):
                    return
        st.not_mine += 1

    def _repeat_down(self, f, now, t_end):
        st = self.stats
        if self.dup.seen(frame_key(f.buf, f.n), now):
            st.dup += 1
            return
        if self.busy.busy(now) and not self.busy.same(f):
            st.busy_drop += 1
            return
        if self._tx_at >= 0:
            st.tx_overrun += 1
            return
        k = f.hop + 1  # my position
        self._txn = copy_with_hop(self._tx, f, 0, k)
        self._tx_at = t_end + self.tel
        st.repeated += 1
        if timing.disc_class(f.disc) != timing.S:
            links = f.nrp + 1 - k
            t = timing.response_timeout_ms(
                self.airtime_ms, f.disc, f.nrp, f.esize, f.n, self.tel, self.tc, self.add, links
            )
            self.busy.start(f, address.is_broadcast(f.buf, 1), self._tx_at + t)

    def _relay_up(self, f, now, t_end):
        st = self.stats
        if self.dup.seen(frame_key(f.buf, f.n), now):
            st.dup += 1
            return
        if self._tx_at >= 0:
            st.tx_overrun += 1
            return
        self._txn = copy_with_hop(self._tx, f, 1, f.hop - 1)
        self._tx_at = t_end + self.tel
        st.relayed += 1
        self.busy.answered(f)

    def _deliver(self, f, info, now, t_end):
        st = self.stats
        st.delivered += 1
        in_phase = None if info is None else getattr(info, "in_phase", None)
        disc = f.disc
        limit = timing.answer_limit(disc)
        ecc_out = f.ecc
        if f.dsap == DSAP_NM:
            n = self.nm.handle(f, in_phase, self._ans)
            if n == START_ROUND:
                self._start_round(f, t_end)
                return
            out = self._ans
            ecc_out = 0
        else:
            if self.app is None:
                return
            c = self._ctx
            c.addr = f.addr_mv()
            c.broadcast = address.is_broadcast(f.buf, 1)
            c.route = f.route_mv()
            c.nrp = f.nrp
            c.esize = f.esize
            c.dsap = f.dsap
            c.ecc = f.ecc
            c.ecc_out = f.ecc
            c.poll = f.poll
            c.disc = disc
            c.max_resp = limit
            c.slots = timing.rc_slots(disc)
            c.rssi = None if info is None else getattr(info, "rssi", None)
            c.snr = None if info is None else getattr(info, "snr", None)
            c.in_phase = in_phase
            c.now_ms = now
            c.t_end_ms = t_end
            try:
                out = self.app(f.lsdu_mv(), c)
                if out is None:
                    return
                n = len(out)
            except Exception as e:
                st.app_error += 1
                self.faults.record(e, "mac.app")
                return
            ecc_out = c.ecc_out
        if n <= 0:
            return
        if limit == 0:
            st.resp_s += 1
            return
        if n > limit:
            st.resp_too_long += 1
            return
        slot = timing.pick_slot(disc, self._rand)
        self._answer(f, out, n, ecc_out, timing.slot_start_ms(t_end, slot, self.tel, self.tc))

    def _answer(self, req, lsdu, n, ecc, at):
        if self._tx_at >= 0:
            self.stats.tx_overrun += 1
            return False
        own = self.sca if req.esize == 2 else self.aca
        self._txn = encode_answer(self._tx, req, own, lsdu, n, ecc)
        self._tx_at = at
        self.stats.answered += 1
        return True

    def relay_broadcast(self, lsdu, at_ms):
        """Send `lsdu` at at_ms as the copy a repeater makes of a broadcast routed through it
        (broadcast ADDRESS, S discipline, RP = our ACA, hop 1): every node hearing it takes it
        (docs/download.md §5.4). False when the transmit slot is taken."""
        if self._tx_at >= 0:
            self.stats.tx_overrun += 1
            return False
        self._txn = encode(
            self._tx, address.BROADCAST, timing.S, self.aca, 0, 0, 1, 0, DSAP_APP, 0, lsdu, 6
        )
        self._tx_at = at_ms
        self.stats.repeated += 1
        return True

    # --- REQADDR: a local ADDRESS.REQ round ----------------------------------------------------

    def _start_round(self, f, t_end):
        nm = self.nm
        if self._tx_at >= 0:
            self.stats.tx_overrun += 1
            return
        a = self._ans
        a[0] = ADDRESS_REQ
        for i in range(4):
            a[1 + i] = nm.apdu[i]
        n = encode(
            self._tx,
            address.BROADCAST,
            timing.REQADDR_DISC,
            b"",
            0,
            f.tag,
            0,
            1,
            DSAP_NM,
            0,
            memoryview(a)[:5],
        )
        self._txn = n
        self._tx_at = t_end + self.tel
        end = self._tx_at + self.airtime_ms(n)
        air = self.airtime_ms
        nm.start_round(end + timing.reqaddr_round_ms(air, self.tel, self.tc, self.add))
        self.stats.reqaddr_rounds += 1

    def _tick(self, now):
        nm = self.nm
        if nm.round == COLLECTING and now >= nm.deadline:
            nm.round = ANSWERING
        if nm.round == ANSWERING and self._tx_at < 0:
            nm.round = IDLE
            req = self._f2
            if req.parse(memoryview(nm.req)[: nm.req_len]) != OK:
                self.stats.internal += 1
                self.faults.record(ValueError("stored REQADDR request"), "mac.round")
                return
            limit = timing.answer_limit(req.disc)
            if limit == 0:
                return  # S request: the round ran, nothing to send
            n = nm.resp_into(self._ans, limit)
            self._answer(req, self._ans, n, 0, now)
