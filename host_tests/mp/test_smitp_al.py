"""SMITP application layer (docs/smitp.md) on a real meter: every message plain and
authenticated, every NACK, every register round-trip across a restart, bad input refused with
no state change (whole-state snapshot compare)."""

import random
import struct
import unittest

import alfix
import sec_fixture
from datamodel import events, registers
from datamodel.registers import CLEAR_R, KEY_R, KEY_W, L, P, T
from datamodel.values import (
    ASCII,
    BYTES,
    I16,
    I32,
    KEY,
    OBJLIST,
    TIME,
    U16,
    U32,
    decode,
    encode,
)
from smitp import crypto, tmac

ACK = b"\xfd"


def nack(code):
    return bytes((255, code))


def oid2(o):
    return bytes((o >> 8, o & 0xFF))


class Case(unittest.TestCase):
    NAME = "al"

    def setUp(self):
        self.b = alfix.Bench(self.NAME)
        self.m = self.b.meter

    def tearDown(self):
        self.b.close()

    def req(self, lsdu, **kw):
        out = self.b.req(lsdu, **kw)
        return None if out is None else bytes(out)

    def auth(self, attr, data, ecc=5, **kw):
        """An authenticated request with MON = LMON + 1; returns (answer ATTR, DATA)."""
        mon = self.m.sec.lmon + 1
        key = sec_fixture.K_WRITE if ecc & 4 else sec_fixture.K_READ
        lsdu = sec_fixture.request(attr, bytes(data), mon, ecc)
        ctx = alfix.Ctx(ecc=ecc, **kw)
        out = self.m.al.handle(memoryview(lsdu), ctx)
        if out is None:
            return None
        out = bytes(out)
        if out[0] == 245 and len(out) == 1 + 17 and ctx.ecc_out == 2:
            return 245, b"\x0a"  # NACK-auth (security layer)
        self.assertEqual(ctx.ecc_out, ecc)
        plain = crypto.ctr(key, tmac.ctr_iv(sec_fixture.ACA, mon, True), out[1:])
        data_out = plain[:-16]
        t = tmac.tmac(key, out[0], sec_fixture.ACA, mon, tmac.crc32(sec_fixture.ACA + plain[:-8]))
        self.assertEqual(plain[-8:], t)
        return out[0], data_out

    def read(self, oid, ecc=None):
        if ecc is None:
            return self.req(b"\x02" + oid2(oid))
        a, d = self.auth(102, oid2(oid), ecc)
        return bytes((a,)) + d

    def write(self, oid, value, ecc=5):
        a, d = self.auth(104, oid2(oid) + bytes(value), ecc)
        return bytes((a,)) + d

    def cmd(self, code, args=b"", ecc=5):
        a, d = self.auth(118, bytes((code,)) + args, ecc)
        return bytes((a,)) + d

    def snap(self):
        return self.b.snapshot()

    def assertSame(self, a, b, n=3, msg=None):
        # compared as one boolean: the states are kilobytes, a diff of them helps nobody
        self.assertTrue(a[:n] == b[:n], msg or "state changed")

    def events(self):
        t = self.m.model.tables[registers.EVENT_LOG]
        return [struct.unpack(">IHh", bytes(t.record(r))) for r in range(t.first(), t.end)]


def _other_value(row):
    """A valid value for a writable row that differs from its default."""
    typ, size, rule = row[2], row[3], row[8]
    d = registers.default_bytes(row) if row[5] == P else None
    if typ == KEY:
        return bytes(range(0xA0, 0xB0))
    if typ == ASCII:
        return b"Z" * size
    if typ == BYTES:
        return bytes(range(1, size + 1))
    if typ == OBJLIST:
        return oid2(0x0001) + oid2(0x0400)
    if typ == TIME:
        return encode(TIME, alfix.T0 + 3600)
    if isinstance(rule, bytes):
        for v in rule:
            if bytes((v,)) != d:
                return bytes((v,))
    lo, hi = rule if isinstance(rule, tuple) else (0, (1 << (8 * size - 1)) - 1)
    cur = decode(typ, d)
    v = hi if cur != hi else lo
    return encode(typ, v)


def _bad_value(row):
    """A value of the right size that the rule refuses, or None if every value is valid."""
    typ, size, rule = row[2], row[3], row[8]
    if typ == ASCII:
        return b"\x01" * size
    if typ == OBJLIST:
        return oid2(0x7777)
    if typ == TIME and rule is not None:
        return encode(TIME, 5)
    if isinstance(rule, bytes):
        for v in range(256):
            if v not in rule:
                return bytes((v,))
    if isinstance(rule, tuple):
        lo, hi = rule
        if typ in (I16, I32) and lo > -(1 << (8 * size - 1)):
            return encode(typ, lo - 1)
        if hi < (1 << (8 * size)) - 1 and typ not in (I16, I32):
            return encode(typ, hi + 1)
        if lo > 0:
            return encode(typ, lo - 1)
    return None


class TestRead(Case):
    NAME = "al_read"

    def test_fault_log_shows_the_last_three_faults(self):
        empty = self.read(0x0041, ecc=1)
        self.assertEqual(empty, b"\x67" + bytes(74))  # READ.RESP authenticated, no fault yet
        self.assertEqual(self.read(0x0041), nack(2))  # read key only
        faults = self.m.faults
        t0 = self.b.clock.now_ms()
        for place in ("plc_rx", "plc_tx", "housekeeping", "optical_port_x"):
            self.b.clock.advance(5000)
            faults.record(ValueError("x"), place)
        d = self.read(0x0041, ecc=1)[1:]
        self.assertEqual(d[:2], b"\x00\x04")
        t = t0 // 1000
        self.assertEqual(d[2:26], struct.pack(">I", t + 10) + b"ValueError" + b"plc_tx    ")
        self.assertEqual(d[50:74], struct.pack(">I", t + 20) + b"ValueError" + b"optical_po")

    def test_every_readable_register_has_its_size_and_rights(self):
        for row in registers.TABLE:
            oid, acc = row[0], row[4]
            size = 9 if row[5] in (L, T) else row[3]
            plain = self.read(oid)
            if acc & CLEAR_R:
                self.assertEqual(plain[0], 3, row[1])
                if row[2] != OBJLIST:
                    self.assertEqual(len(plain) - 1, size, row[1])
            else:
                self.assertEqual(plain, nack(2), row[1])
            keyed = self.read(oid, ecc=1)
            if acc & (CLEAR_R | KEY_R):
                self.assertEqual(keyed[0], 103, row[1])
            else:
                self.assertEqual(keyed, b"\xf5\x02", row[1])  # keys: never, under any key

    def test_status_word_reflects_live_state(self):
        self.assertEqual(self.read(0x003F), b"\x03" + bytes(7) + b"\x10")  # first boot
        self.m.hw.relay.open()
        self.b.rtc.t = 5
        self.m.store_recovered = True
        flags = struct.unpack(">Q", self.read(0x003F)[1:])[0]
        want = (
            registers.SW_RELAY_OPEN
            | registers.SW_CLOCK_NOT_SET
            | registers.SW_STORE_RECOVERED
            | registers.SW_FIRST_BOOT
        )
        self.assertEqual(flags, want)
        self.b.boot()
        self.m = self.b.meter
        self.assertEqual(struct.unpack(">Q", self.read(0x003F)[1:])[0] & 0x10, 0)

    def test_unknown_and_malformed(self):
        s = self.snap()
        self.assertEqual(self.read(0x7777), nack(1))
        self.assertEqual(self.req(b"\x02\x00"), nack(3))
        self.assertEqual(self.req(b"\x02\x00\x3f\x00"), nack(3))
        self.assertEqual(self.req(b"\x60\x00"), nack(4))  # unknown plain ATTR
        self.assertIsNone(self.req(b""))
        self.assertSame(self.snap(), s)

    def test_reading_mode_protects_metering_data(self):
        self.assertEqual(self.read(0x0400)[0], 3)
        self.assertEqual(self.write(0x1800, b"\x01"), b"\xf3")
        self.assertEqual(self.read(0x0400), nack(2))
        self.assertEqual(self.read(0x0400, ecc=1), b"\x67" + bytes(4))
        self.assertEqual(self.read(0x003F)[0], 3)  # not metering data: still clear

    def test_answer_too_long_for_discipline(self):
        # RA1 = 20 bytes: the 33-byte bnode_message does not fit
        self.assertEqual(self.req(b"\x02\x19\x02", disc=2), nack(5))
        self.assertEqual(self.req(b"\x02\x00\x3f", disc=2)[0], 3)


class TestWriteRoundTrip(Case):
    NAME = "al_write"

    def test_every_writable_register_round_trips_and_survives_restart(self):
        written = {}
        for row in registers.TABLE:
            if not row[4] & KEY_W or row[5] in (L, T) or row[2] == KEY or row[0] == 0x0100:
                continue
            v = _other_value(row)
            self.assertEqual(self.write(row[0], v), b"\xf3", row[1])
            self.assertEqual(self.read(row[0], ecc=1)[1:], v, row[1])
            written[row[0]] = v
        self.assertGreater(len(written), 40)
        self.b.boot()
        self.m = self.b.meter
        for oid, v in written.items():
            self.assertEqual(self.read(oid, ecc=1)[1:], v, hex(oid))

    def test_refusals_change_nothing(self):
        for row in registers.TABLE:
            if not row[4] & KEY_W or row[5] in (L, T) or row[2] == KEY:
                continue
            s = self.snap()
            v = _other_value(row)
            self.assertEqual(self.req(b"\x04" + oid2(row[0]) + v), nack(2), row[1])  # plain
            self.assertEqual(self.write(row[0], v, ecc=1), b"\xf5\x02", row[1])  # read key
            if row[2] != OBJLIST:
                self.assertEqual(self.write(row[0], v + b"\x00"), b"\xf5\x03", row[1])
                self.assertEqual(self.write(row[0], v[:-1]), b"\xf5\x03", row[1])
            bad = _bad_value(row)
            if bad is not None:
                self.assertEqual(self.write(row[0], bad), b"\xf5\x06", row[1])
            self.assertSame(self.snap(), s, msg=row[1])

    def test_read_only_and_unknown(self):
        s = self.snap()
        self.assertEqual(self.write(0x003F, bytes(8)), b"\xf5\x02")
        self.assertEqual(self.write(0x7777, b"\x00"), b"\xf5\x01")
        self.assertEqual(self.write(0x0900, b"\x00" * 4), b"\xf5\x04")  # a table
        self.assertEqual(self.write(0x00, b""), b"\xf5\x01")
        self.assertSame(self.snap(), s)

    def test_key_change_takes_effect_and_is_never_readable(self):
        new = bytes(range(0x40, 0x50))
        self.assertEqual(self.write(registers.KEY_READ, new), b"\xf3")
        self.assertEqual(self.read(registers.KEY_READ, ecc=5), b"\xf5\x02")
        # the old read key is refused (NACK-auth), the new one works
        self.assertEqual(self.auth(102, oid2(0x003F), ecc=1), (245, b"\x0a"))
        self.assertEqual(self.events()[-1][1], events.KEY_CHANGED)

    def test_write_key_change_answer_under_old_key_then_new_key(self):
        new = bytes(range(0x50, 0x60))
        self.assertEqual(self.write(registers.KEY_WRITE, new), b"\xf3")  # sealed with old K1
        self.assertEqual(self.auth(104, oid2(0x0302) + b"\x21"), (245, b"\x0a"))  # old K1
        kw = sec_fixture.K_WRITE
        sec_fixture.K_WRITE = new
        try:
            lsdu = sec_fixture.request(104, oid2(0x0302) + b"\x21", self.m.sec.lmon + 1, 5, kw=new)
            out = self.m.al.handle(memoryview(lsdu), alfix.Ctx(ecc=5))
            self.assertEqual(out[0], 243)
        finally:
            sec_fixture.K_WRITE = kw
        self.b.boot()
        self.m = self.b.meter
        lsdu = sec_fixture.request(104, oid2(0x0302) + b"\x22", self.m.sec.lmon + 1, 5, kw=new)
        self.assertEqual(self.m.al.handle(memoryview(lsdu), alfix.Ctx(ecc=5))[0], 243)
        self.assertEqual(self.read(0x0302)[1:], b"\x22")


class TestTables(Case):
    NAME = "al_tables"

    def _wt(self, oid, start, flags, recs, attr=110, pre=b""):
        a, d = self.auth(attr, pre + oid2(oid) + bytes((start, flags)) + recs)
        return bytes((a,)) + d

    def test_writetab_blocks_commit_and_block_read_continuation(self):
        recs = [bytes((0, h, 0, 1 + h % 4)) for h in range(0, 24, 2)]  # 12 switch points
        self.assertEqual(self._wt(0x0900, 0, 0, b"".join(recs[:5])), b"\xf3")
        before = self.read(0x0900)
        self.assertEqual(before[1:3], b"\x00\x01")  # not committed yet: default (1 record)
        self.assertEqual(self._wt(0x0900, 3, 0, recs[5]), b"\xf5\x08")  # sequence
        self.assertEqual(self._wt(0x0900, 5, 1, b"".join(recs[5:])), b"\xf3")
        self.assertEqual(self.read(0x0900)[1:3], b"\x00\x0c")
        # block read on RA1 (20 bytes): 8 - 11 header = 2 records... continue until END
        got = b""
        rno = 0
        rounds = 0
        while True:
            ans = self.req(b"\x08" + oid2(0x0900) + struct.pack(">I", rno), disc=2)
            self.assertEqual(ans[0], 9)
            first, end, n = struct.unpack(">IIB", ans[3:12])
            self.assertLessEqual(len(ans), 20)
            got += ans[12:]
            rounds += 1
            rno = first + n
            if rno >= end:
                break
        self.assertEqual(got, b"".join(recs))
        self.assertEqual(rounds, 6)
        self.b.boot()
        self.m = self.b.meter
        self.assertEqual(self.read(0x0900)[1:3], b"\x00\x0c")

    def test_writetab_refusals(self):
        s = self.snap()
        self.assertEqual(self._wt(0x0900, 0, 1, b"\x09\x00\x00\x01"), b"\xf5\x06")  # daytype 9
        self.assertEqual(self._wt(0x0900, 0, 1, b"\x00\x00\x00"), b"\xf5\x03")  # partial record
        self.assertEqual(self._wt(0x0900, 0, 2, b""), b"\xf5\x06")  # reserved flag
        self.assertEqual(self._wt(0x1300, 0, 1, b""), b"\xf5\x04")  # a log table
        self.assertEqual(self._wt(0x7777, 0, 1, b""), b"\xf5\x01")
        self.assertEqual(self.req(b"\x0a" + oid2(0x0900) + b"\x00\x01"), nack(2))
        self.assertSame(self.snap(), s)
        one = b"\x00\x00\x00\x01"
        self.assertEqual(self._wt(0x0900, 0, 0, one * 20), b"\xf3")
        self.assertEqual(self._wt(0x0900, 20, 1, one * 21), b"\xf5\x06")  # > 40 records

    def test_capacity(self):
        r = b"\x01\x01\x00\x00"
        self.assertEqual(self._wt(0x0901, 0, 0, r * 12), b"\xf3")
        self.assertEqual(self._wt(0x0901, 12, 1, r), b"\xf5\x06")
        self.assertEqual(self._wt(0x0901, 12, 1, b""), b"\xf3")

    def test_event_log_selective_by_time_and_buff_select(self):
        for i in range(5):
            self.b.rtc.t = alfix.T0 + 100 * i
            self.assertEqual(self.cmd(0x09), b"\xf3")  # max_demand_reset: one event each
        ev = registers.EVENT_LOG
        self.assertEqual(self.req(b"\x06" + oid2(ev) + b"\x01" + bytes(8)), nack(2))  # key_r
        sel = oid2(ev) + b"\x01" + struct.pack(">II", alfix.T0 + 100, alfix.T0 + 300)
        a, d = self.auth(122, sel, ecc=1)
        first, end, rs = struct.unpack(">IIB", d[2:])
        self.assertEqual((a, end - first, rs), (123, 3, 8))
        a, d = self.auth(106, sel, ecc=1)
        self.assertEqual((a, d[10]), (107, 3))
        for i in range(3):
            t, code, _ = struct.unpack(">IHh", d[11 + 8 * i : 19 + 8 * i])
            self.assertEqual((t, code), (alfix.T0 + 100 * (i + 1), events.MAX_DEMAND_RESET))
        # index selection; bad SEL and FROM > TO
        a, d = self.auth(106, oid2(ev) + b"\x00" + struct.pack(">II", first, first), ecc=1)
        self.assertEqual(d[10], 1)
        self.assertEqual(self.auth(106, oid2(ev) + b"\x02" + bytes(8), ecc=1), (245, b"\x06"))
        self.assertEqual(
            self.auth(106, oid2(ev) + b"\x00" + struct.pack(">II", 5, 4), ecc=1), (245, b"\x06")
        )
        self.assertEqual(self.auth(106, oid2(0x0900) + b"\x01" + bytes(8), ecc=1), (245, b"\x06"))
        self.assertEqual(self.auth(106, oid2(0x003F) + b"\x00" + bytes(8), ecc=1), (245, b"\x04"))
        self.assertEqual(self.auth(106, oid2(ev) + b"\x00" + bytes(7), ecc=1), (245, b"\x03"))

    def test_log_persists_and_wraps(self):
        n0 = self.m.model.tables[registers.EVENT_LOG].end
        for i in range(40):
            self.b.rtc.t = alfix.T0 + i
            self.assertEqual(self.cmd(0x09), b"\xf3")
        t = self.m.model.tables[registers.EVENT_LOG]
        self.assertEqual((t.count(), t.end), (32, n0 + 40))
        ring = t.snapshot()
        self.b.boot()
        self.m = self.b.meter
        t = self.m.model.tables[registers.EVENT_LOG]
        self.assertEqual(t.snapshot()[1:], (ring[1] + 1, ring[2]))  # + the boot event
        self.assertEqual(self.events()[-2][0], alfix.T0 + 39)

    def test_resettab(self):
        self.assertEqual(self.write(0x0301, encode(U16, 400)), b"\xf3")
        self.assertEqual(self.write(0x0302, b"\x10"), b"\xf3")
        self.assertEqual(self._wt(0x0A00, 0, 1, b"\x01\x01\x00\x02"), b"\xf3")
        a, d = self.auth(116, oid2(0x0301))
        self.assertEqual(a, 243)
        self.assertEqual(self.read(0x0301)[1:], encode(U16, 230))
        self.assertEqual(self.read(0x0302)[1:], b"\x10")
        self.assertEqual(self.auth(116, b"\x03\xff")[0], 243)
        self.assertEqual(self.read(0x0302)[1:], b"\x3c")
        self.assertEqual(self.auth(116, b"\xff\xff")[0], 243)
        self.assertEqual(self.read(0x0A00)[1:3], b"\x00\x00")
        s = self.snap()
        self.assertEqual(self.auth(116, oid2(0x003F)), (245, b"\x02"))
        self.assertEqual(self.auth(116, oid2(registers.KEY_WRITE)), (245, b"\x02"))
        self.assertEqual(self.auth(116, oid2(0x7777)), (245, b"\x01"))
        self.assertEqual(self.auth(116, b"\x04\xff"), (245, b"\x04"))  # energies: read-only
        self.assertEqual(self.auth(116, b"\x03"), (245, b"\x03"))
        self.assertEqual(self.req(b"\x10\x03\x01"), nack(2))
        self.assertSame(self.snap(), s)


class TestCustomTables(Case):
    NAME = "al_custom"

    def test_settab_gettab(self):
        ids = oid2(0x003F) + oid2(0x0100) + oid2(0x0400)
        self.assertEqual(self.auth(114, b"\x02" + ids), (243, b""))
        self.assertEqual(self.read(0x1A02)[1:], ids)
        ans = self.req(b"\x1e\x02")
        self.assertEqual(ans[:2], b"\x1f\x02")
        self.assertEqual(len(ans), 2 + 8 + 4 + 4)
        self.assertEqual(ans[10:14], struct.pack(">I", alfix.T0))
        self.assertEqual(self.req(b"\x1e\x01"), b"\x1f\x01")  # empty table
        self.b.boot()
        self.m = self.b.meter
        self.assertEqual(self.auth(130, b"\x02", ecc=1)[1][:1], b"\x02")
        # with a KEY_R object in it, the clear GETTAB is refused
        self.assertEqual(self.auth(114, b"\x03" + oid2(0x0040)), (243, b""))
        self.assertEqual(self.req(b"\x1e\x03"), nack(2))
        self.assertEqual(self.auth(130, b"\x03", ecc=1)[0], 131)

    def test_settab_refusals(self):
        s = self.snap()
        self.assertEqual(self.auth(114, b"\x05" + oid2(0x003F)), (245, b"\x01"))
        self.assertEqual(self.auth(114, b"\x01" + oid2(0x7777)), (245, b"\x01"))
        self.assertEqual(self.auth(114, b"\x01" + oid2(0x1300)), (245, b"\x04"))
        self.assertEqual(self.auth(114, b"\x01" + oid2(registers.KEY_READ)), (245, b"\x04"))
        self.assertEqual(self.auth(114, b"\x01" + oid2(0x1902) * 4), (245, b"\x06"))  # > 110
        self.assertEqual(self.auth(114, b"\x01\x00"), (245, b"\x03"))
        self.assertEqual(self.auth(114, b"\x01" + oid2(0x0001) * 17), (245, b"\x03"))
        self.assertEqual(self.auth(114, b"\x01" + oid2(0x0001), ecc=1), (245, b"\x02"))
        self.assertEqual(self.req(b"\x1e\x00"), nack(1))
        self.assertEqual(self.req(b"\x1e"), nack(3))
        self.assertSame(self.snap(), s)


class TestDeferred(Case):
    NAME = "al_ic"

    def test_setic_pending_activates_and_survives_restart(self):
        at = alfix.T0 + 600
        req = struct.pack(">I", at) + oid2(0x0800) + encode(U32, 6000)
        self.assertEqual(self.auth(140, req), (243, b""))
        self.assertEqual(self.read(0x0D03)[1:], oid2(0x0800) + struct.pack(">I", at))
        self.m.al.tick()  # the first periodic B-Node update is due at boot
        self.assertEqual(self.m.al.next_due(), 600)
        busy = struct.pack(">I", at) + oid2(0x0801) + b"\x02"
        self.assertEqual(self.auth(140, busy), (245, b"\x07"))
        self.b.boot()
        self.m = self.b.meter
        self.m.al.tick()
        self.assertEqual(self.read(0x0800)[1:], encode(U32, 3000))
        self.b.rtc.t = at
        self.m.al.tick()
        self.assertEqual(self.read(0x0800)[1:], encode(U32, 6000))
        self.assertEqual(self.read(0x0D03)[1:], b"\xff" * 6)
        self.assertEqual(self.events()[-1][1:], (events.ACTIVATION, 0x0800))

    def test_setic_now_bad_value_and_cancel(self):
        past = struct.pack(">I", alfix.T0 - 1)
        self.assertEqual(self.auth(140, past + oid2(0x0302) + b"\x20"), (243, b""))
        self.assertEqual(self.read(0x0302)[1:], b"\x20")
        s = self.snap()
        self.assertEqual(self.auth(140, past + oid2(0x0302) + b"\x00"), (245, b"\x06"))
        self.assertEqual(self.auth(140, past + oid2(0x0100) + bytes(4)), (245, b"\x04"))
        self.assertEqual(self.auth(140, past + oid2(0x0302)), (245, b"\x03"))
        self.assertEqual(self.auth(140, past[:3]), (245, b"\x03"))
        self.assertSame(self.snap(), s)
        fut = struct.pack(">I", alfix.T0 + 10)
        self.assertEqual(self.auth(140, fut + oid2(0x0302) + b"\x30"), (243, b""))
        self.assertEqual(self.cmd(0x0B), b"\xf3")
        self.b.rtc.t += 20
        self.m.al.tick()
        self.assertEqual(self.read(0x0302)[1:], b"\x20")

    def test_writetabic(self):
        fut = struct.pack(">I", alfix.T0 + 60)
        rec = b"\x0c\x19\x00\x00"  # Dec 25, every year, holiday type 0
        a, d = self.auth(142, fut + oid2(0x0A00) + b"\x00\x01" + rec)
        self.assertEqual(a, 243)
        self.assertEqual(self.read(0x0A00)[1:3], b"\x00\x00")
        self.b.rtc.t += 60
        self.m.al.tick()
        self.assertEqual(self.req(b"\x08" + oid2(0x0A00) + bytes(4))[12:], rec)

    def test_contract_switch(self):
        self.assertEqual(self.write(0x0810, encode(U32, 4500)), b"\xf3")
        self.assertEqual(self.write(0x0811, b"\x03"), b"\xf3")
        self.assertEqual(self.write(0x0812, encode(TIME, alfix.T0 + 5)), b"\xf3")
        self.b.rtc.t += 5
        self.m.al.tick()
        self.assertEqual(self.read(0x0800)[1:], encode(U32, 4500))
        self.assertEqual(self.read(0x0801)[1:], b"\x03")
        self.assertEqual(self.read(0x0812)[1:], bytes(4))
        self.assertEqual(self.events()[-1][1:], (events.CONTRACT_SWITCH, 3))


class TestCommands(Case):
    NAME = "al_cmd"

    def test_clock_set_and_adjust(self):
        t = alfix.T0 + 86400
        self.assertEqual(self.cmd(0x02, struct.pack(">I", t)), b"\xf3")
        self.assertEqual(self.b.rtc.t, t)
        sw = struct.unpack(">Q", self.read(0x003F)[1:])[0]
        self.assertTrue(sw & registers.SW_CLOCK_SYNCED)
        self.assertEqual(self.events()[-1][1:], (events.CLOCK_SET, 32767))
        self.assertEqual(self.cmd(0x03, struct.pack(">i", -120)), b"\xf3")
        self.assertEqual(self.b.rtc.t, t - 120)
        self.assertEqual(self.events()[-1][1:], (events.CLOCK_ADJUST, -120))
        self.assertEqual(self.read(0x0104)[1:], struct.pack(">I", t - 120))
        self.assertEqual(self.read(0x0105)[1:], b"\x00\x02")
        # WRITE of the clock register is a set too
        self.assertEqual(self.write(0x0100, struct.pack(">I", t)), b"\xf3")
        self.assertEqual(self.b.rtc.t, t)
        s = self.snap()
        self.assertEqual(self.cmd(0x03, struct.pack(">i", 301)), b"\xf5\x06")  # window 300
        self.assertEqual(self.cmd(0x02, struct.pack(">I", 1000)), b"\xf5\x06")  # before 2020
        self.assertEqual(self.cmd(0x02, b"\x00"), b"\xf5\x03")
        self.assertEqual(self.req(b"\x12\x02" + struct.pack(">I", t + 5)), nack(2))  # plain
        self.assertEqual(self.cmd(0x02, struct.pack(">I", t + 5), ecc=1), b"\xf5\x02")
        self.assertSame(self.snap(), s)

    def test_relay_commands(self):
        self.assertEqual(self.cmd(0x04), b"\xf3")
        self.assertEqual(self.read(0x0D00)[1:], b"\x00")
        self.assertEqual(self.cmd(0x05), b"\xf3")
        self.assertEqual(self.read(0x0D00)[1:], b"\x02")
        self.assertEqual(self.cmd(0x06), b"\xf3")
        self.assertEqual(self.read(0x0D00)[1:], b"\x01")
        codes = [e[1] for e in self.events()[-3:]]
        self.assertEqual(
            codes, [events.RELAY_OPENED, events.RECONNECT_ENABLED, events.RELAY_CLOSED]
        )
        self.assertEqual(self.read(0x0D01)[1:], b"\x06")

    def test_billing_close_freeze_and_virtual_registers(self):
        me = self.m.model.metering
        me.set(0, 4, 12345)
        me.set(4, 4, 10)
        self.assertEqual(self.cmd(0x01), b"\xf3")
        self.assertEqual(self.read(0x0604)[1:], b"\x00\x01")
        me.set(0, 4, 12400)
        self.assertEqual(self.read(0x1500)[1:], encode(U32, 55))
        ans = self.req(b"\x08" + oid2(0x1400) + bytes(4))
        self.assertEqual(
            ans[12:25], struct.pack(">IBII", alfix.T0, 2, 12345, 10)
        )  # docs/tariffs.md
        self.assertEqual(self.cmd(0x08), b"\xf3")
        self.assertEqual(self.read(0x1201)[1:], encode(U32, 12400))

    def test_event_log_clear_and_unknown(self):
        self.assertEqual(self.cmd(0x07), b"\xf3")
        t = self.m.model.tables[registers.EVENT_LOG]
        self.assertEqual(t.count(), 1)
        self.assertEqual(self.events()[0][1], events.LOG_CLEARED)
        s = self.snap()
        self.assertEqual(self.cmd(0x7F), b"\xf5\x01")
        self.assertEqual(self.cmd(0x07, b"\x00"), b"\xf5\x03")
        self.assertEqual(self.auth(118, b""), (245, b"\x03"))
        self.assertSame(self.snap(), s)

    def test_bnode_update(self):
        self.assertEqual(self.write(registers.BNODE_MESSAGE, b"hello" + b" " * 27), b"\xf3")
        self.assertEqual(self.cmd(0x0A), b"\xf3")
        dev = self.b.bnode_dev
        self.assertEqual(dev.values[registers.BNODE_MESSAGE], b"hello" + b" " * 27)
        self.assertEqual(dev.values[0x0100], struct.pack(">I", alfix.T0))
        self.assertEqual(self.read(0x1900)[1:], b"\x01")


class TestFrameRules(Case):
    NAME = "al_frame"

    def test_broadcast(self):
        s = self.snap()
        lmon = self.m.sec.lmon
        self.assertIsNone(self.req(b"\x02\x00\x3f", broadcast=True, disc=2))  # RA
        self.assertEqual(self.req(b"\x02\x00\x3f", broadcast=True, disc=12, slots=8)[0], 3)
        lsdu = sec_fixture.request(102, oid2(0x003F), lmon + 1, 1)
        ctx = alfix.Ctx(ecc=1, broadcast=True, disc=12, slots=8)
        self.assertIsNone(self.m.al.handle(memoryview(lsdu), ctx))
        self.assertIsNone(self.req(b"\x12\x07", broadcast=True, disc=12, slots=8))
        self.assertEqual(self.m.sec.lmon, lmon)
        self.assertEqual(self.m.al.stats["bcast_ignored"], 3)
        self.assertSame(self.snap(), s)

    def test_poll_zero_executes_writes_without_answer(self):
        self.assertIsNone(self.req(b"\x02\x00\x3f", poll=0))
        self.assertIsNone(self.auth(104, oid2(0x0302) + b"\x21", poll=0))
        self.assertEqual(self.read(0x0302)[1:], b"\x21")

    def test_rb_discipline_answers_b_node_codes(self):
        a, d = self.auth(104, oid2(registers.BNODE_MESSAGE) + b"x" * 32, disc=11)
        self.assertEqual((a, d), (241, b""))
        self.assertEqual(self.b.bnode_dev.values[registers.BNODE_MESSAGE], b"x" * 32)
        self.assertEqual(self.auth(104, oid2(0x7777), disc=11), (239, b"\x01"))


class TestNoBNode(Case):
    NAME = "al_nobn"

    def setUp(self):
        self.b = alfix.Bench(self.NAME, bnode=False)
        self.m = self.b.meter

    def test_rb_write_kept_but_nacked(self):
        a, d = self.auth(104, oid2(registers.BNODE_MESSAGE) + b"y" * 32, disc=10)
        self.assertEqual((a, d), (239, b"\x09"))
        self.assertEqual(self.read(registers.BNODE_MESSAGE)[1:], b"y" * 32)
        self.assertEqual(self.read(0x1900)[1:], b"\x00")


class TestFuzz(Case):
    NAME = "al_fuzz"

    def test_mutated_plain_requests_never_raise_and_refusals_change_nothing(self):
        random.seed(10)
        rng = random
        seeds = [
            b"\x02\x00\x3f",
            b"\x08\x13\x00\x00\x00\x00\x00",
            b"\x06\x05\x00\x01" + bytes(8),
            b"\x16\x13\x00\x00" + bytes(8),
            b"\x1e\x01",
            b"\x04\x03\x01\x00\xe6",
            b"\x0a\x09\x00\x00\x01\x00\x00\x00\x01",
            b"\x0e\x01\x00\x3f",
            b"\x10\xff\xff",
            b"\x28" + bytes(6),
            b"\x2a" + bytes(8),
            b"\x12\x07",
        ]
        s = self.snap()
        for _ in range(1500):
            m = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 3)):
                op = rng.randint(0, 2)
                if op == 0 and m:
                    m[rng.randint(0, len(m) - 1)] = rng.randint(0, 255)
                elif op == 1:
                    m.append(rng.randint(0, 255))
                elif len(m) > 1:
                    m = m[:-1]
            if m and 102 <= m[0] < 247:
                continue  # authenticated ATTRs: security layer's fuzz test
            out = self.req(bytes(m))
            if out is not None:
                self.assertIn(out[0], (3, 7, 9, 23, 31, 255))
        self.assertSame(self.snap(), s)


class TestTableCompact(unittest.TestCase):
    def test_ids_sorted_unique_and_every_group_present(self):
        ids = [r[0] for r in registers.TABLE]
        self.assertEqual(ids, sorted(set(ids)))
        for g in registers.GROUPS:
            self.assertTrue(any(i >> 8 == g for i in ids), hex(g))
        self.assertEqual(registers.find(0x003F)[1], "status_word")
        self.assertEqual(registers.by_name("clock")[0], 0x0100)

    def test_defaults_are_valid(self):
        from datamodel.values import check

        for r in registers.TABLE:
            if r[5] == P:
                self.assertTrue(check(r[2], r[3], r[8], registers.default_bytes(r)), r[1])


class TestMoreRefusals(Case):
    NAME = "al_more"

    def test_block_read_too_long_and_not_a_table(self):
        self.assertEqual(self.cmd(0x01), b"\xf3")  # one 61-byte billing record
        req = b"\x08" + oid2(0x1400) + bytes(4)
        self.assertEqual(self.req(req, disc=4), nack(5))  # RA3: 60 - 12 < 61
        self.assertEqual(self.req(req, disc=5)[11], 1)  # RA4: fits
        self.assertEqual(self.req(b"\x08" + oid2(0x003F) + bytes(4)), nack(4))
        self.assertEqual(self.req(b"\x08" + oid2(0x7777) + bytes(4)), nack(1))
        self.assertEqual(self.req(b"\x08" + oid2(0x1300) + bytes(4)), nack(2))  # KEY_R
        self.assertEqual(self.req(b"\x08" + oid2(0x1400) + bytes(3)), nack(3))
        past = self.req(b"\x08" + oid2(0x1400) + struct.pack(">I", 9))
        self.assertEqual(past[3:12], struct.pack(">IIB", 1, 1, 0))  # beyond END: N = 0

    def test_time_selection_after_backward_step(self):
        ev = registers.EVENT_LOG
        self.b.rtc.t = alfix.T0 + 100
        self.assertEqual(self.cmd(0x09), b"\xf3")  # event at T0+100
        self.assertEqual(self.cmd(0x03, struct.pack(">i", -90)), b"\xf3")  # at T0+10
        self.assertEqual(self.cmd(0x09), b"\xf3")  # at T0+10
        sel = oid2(ev) + b"\x01" + struct.pack(">II", alfix.T0 + 100, alfix.T0 + 100)
        a, d = self.auth(122, sel, ecc=1)
        first, end = struct.unpack(">II", d[2:10])
        self.assertEqual(end - first, 1)
        sel = oid2(ev) + b"\x01" + struct.pack(">II", alfix.T0 + 5, alfix.T0 + 15)
        a, d = self.auth(122, sel, ecc=1)
        first, end = struct.unpack(">II", d[2:10])
        self.assertEqual(end - first, 2)  # the adjust event and the last reset, both at T0+10


class TestThroughMac(Case):
    NAME = "al_mac"

    def _frame(self, addr, disc, lsdu, poll=1, ecc=0):
        from mac import frame as fr

        buf = bytearray(200)
        n = fr.encode(buf, addr, disc, b"", 0, 3, 0, poll, 0, ecc, lsdu)
        return bytes(buf[:n])

    def _answers(self, frame):
        mac = self.m.mac
        mac.on_rx(frame, None, 0)
        out = []
        t = 0
        while t < 20000:
            f = mac.poll(t)
            if f is not None:
                out.append(f)
            t += 10
        return out

    def test_broadcast_request_response_gets_no_answer_rc_does(self):
        from mac import address

        bc = address.BROADCAST
        self.assertEqual(self._answers(self._frame(bc, 7, b"\x02\x00\x3f")), [])
        ans = self._answers(self._frame(bc, 12, b"\x02\x00\x3f"))
        self.assertEqual(len(ans), 1)
        self.assertEqual(ans[0][-9:], b"\x03" + bytes(7) + b"\x10")

    def test_authenticated_read_through_the_mac(self):
        lsdu = sec_fixture.request(102, oid2(0x003F), 1, 1)
        ans = self._answers(self._frame(sec_fixture.ACA, 7, lsdu, ecc=1))
        self.assertEqual(len(ans), 1)
        f = ans[0]
        self.assertEqual(f[10] & 15, 1)  # INF-LSAP ECC of the answer = the request's
        body = crypto.ctr(sec_fixture.K_READ, tmac.ctr_iv(sec_fixture.ACA, 1, True), f[12:])
        self.assertEqual((f[11], body[:-16]), (103, bytes(7) + b"\x10"))


class TestLengths(Case):
    NAME = "al_len"

    # (plain ATTR, valid APDU) of every message; each one byte shorter or longer is NACK 3
    VALID = (
        (2, oid2(0x003F)),
        (8, oid2(0x0900) + bytes(4)),
        (6, oid2(0x0900) + b"\x00" + bytes(8)),
        (22, oid2(0x0900) + b"\x00" + bytes(8)),
        (30, b"\x01"),
        (4, oid2(0x0302) + b"\x20"),
        (10, oid2(0x0900) + b"\x00\x01" + b"\x00\x00\x00\x01"),
        (14, b"\x01" + oid2(0x003F)),
        (16, oid2(0x0302)),
        (40, struct.pack(">I", alfix.T0 + 99) + oid2(0x0302) + b"\x20"),
        (42, struct.pack(">I", alfix.T0 + 99) + oid2(0x0900) + b"\x00\x01" + b"\x00\x00\x00\x01"),
        (18, b"\x02" + struct.pack(">I", alfix.T0)),
    )

    def test_truncated_and_over_long(self):
        for attr, apdu in self.VALID:
            s = self.snap()
            for bad in (apdu[:-1], apdu + b"\x00"):
                if attr == 14 and len(bad) == len(apdu) + 1:
                    bad = apdu + b"\x00"  # odd id list
                a, d = self.auth(attr + 100, bad, ecc=5)
                self.assertEqual((a, d), (245, b"\x03"), (attr, bad))
            self.assertSame(self.snap(), s, msg=str(attr))
            a, d = self.auth(attr + 100, apdu, ecc=5)
            self.assertIn(a, (243, attr + 101), attr)
            self.assertEqual(self.cmd(0x0B), b"\xf3")  # ic_cancel: one pending slot


class TestStoreBudget(Case):
    NAME = "al_budget"

    def test_everything_full_still_fits_one_store_block(self):
        md = self.m.model
        for row in registers.TABLE:
            if row[5] == P and row[4] & KEY_W:
                self.assertEqual(md.write(row, _other_value(row)), 0, row[1])
            elif row[5] == L:
                t = md.tables[row[0]]
                for i in range(t.capacity):
                    t.append(struct.pack(">I", alfix.T0 + i) + bytes(row[3] - 4))
            elif row[5] == T:
                recs = bytes(row[7][:4]) if row[7] else b"\x01\x01\x00\x00"
                self.assertEqual(md.set_table(row[0], recs * row[6]), 0, row[1])
        # billing_data filled as by closes: last_billing_time = its last TIME (docs/tariffs.md §5)
        last = md.tables[registers.BILLING_DATA].capacity - 1
        md.set_ints(((registers.LAST_BILLING, alfix.T0 + last),))
        self.assertEqual(
            self.auth(140, struct.pack(">I", alfix.T0 + 9) + oid2(0x0F02) + b"x" * 16)[0], 243
        )
        st = self.m.store.stats()
        print(
            "store live bytes with every table and parameter full: %d of %d"
            % (st["live"], st["block_size"])
        )
        self.assertLess(st["live"], st["block_size"] - 512)  # room for sec's records and growth
        before = md.snapshot()
        self.b.boot()
        after = self.b.meter.model.snapshot()
        # parameter blocks and the pending activation come back; the logs gained a boot event
        self.assertTrue(after[0] == before[0] and after[2] == before[2])


class TestLegal(Case):
    NAME = "al_legal"

    def test_legal_checksum_is_crc32_of_the_legally_relevant_files(self):
        import binascii

        from datamodel import legal

        blob = b""
        for name in legal.MODULES:  # lib/ first, then the tree root (drivers/)
            try:
                f = open("firmware/lib/" + name + ".py", "rb")
            except OSError:
                f = open("firmware/" + name + ".py", "rb")
            with f:
                blob += f.read()
        want = binascii.crc32(blob) & 0xFFFFFFFF
        self.assertEqual(self.read(0x0701)[1:], struct.pack(">I", want))
        self.assertEqual(self.read(0x0700)[1:], legal.SW_ID)


class TestStoreFailure(Case):
    NAME = "al_storefail"

    def test_a_refused_flash_write_is_nack_11_and_changes_nothing(self):
        store = self.m.store
        real = store.put
        armed = [False]

        def put(key, value):
            if armed[0] and key >= 0x100:  # data-model keys only: LMON still persists
                raise OSError(5)
            return real(key, value)

        store.put = put
        s = self.snap()
        armed[0] = True
        self.assertEqual(self.write(0x0302, b"\x21"), b"\xf5\x0b")
        self.assertEqual(self.cmd(0x09), b"\xf5\x0b")
        self.assertEqual(self.cmd(0x07), b"\xf5\x0b")  # event_log_clear
        armed[0] = False
        self.assertSame(self.snap(), s)
        self.assertEqual(self.m.al.stats["store_err"], 3)
        self.assertEqual(self.write(0x0302, b"\x21"), b"\xf3")


class TestBNodeLink(Case):
    NAME = "al_bnlink"

    def test_periodic_update_and_a_failing_link(self):
        dev = self.b.bnode_dev
        self.m.al.tick()  # due at boot
        self.assertEqual(dev.updates, 1)
        self.b.rtc.t += 899
        self.m.al.tick()
        self.assertEqual(dev.updates, 1)
        self.b.rtc.t += 1
        self.m.al.tick()
        self.assertEqual(dev.updates, 2)
        self.assertEqual(self.read(0x1903)[1:], struct.pack(">I", self.b.rtc.t))

        def broken(frame):
            raise OSError(5)

        dev.exchange = broken
        a, d = self.auth(104, oid2(registers.BNODE_MESSAGE) + b"z" * 32, disc=9)
        self.assertEqual((a, d), (239, b"\x09"))
        self.assertEqual(self.read(0x1900)[1:], b"\x00")
