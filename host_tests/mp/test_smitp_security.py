"""smitp.security: authenticated exchanges, LMON, NACK-auth, CHALLENGE, duplicates, keys, bad
input against a whole-state snapshot, heap_lock. Byte-exact checks against the independent
`cryptography` model are in host_tests/py/test_smitp_security_ref.py."""

import unittest

import micropython
import sec_fixture as fx
import storekeys
from datamodel import live, registers
from selftest import RamFlash
from smitp import crypto, security, tmac
from store import Store

READ = 102
STATUS = b"\x00\x3f"


class _Ctx:
    def __init__(self, ecc=0):
        self.ecc = ecc
        self.ecc_out = ecc
        self.broadcast = False
        self.poll = 1
        self.disc = 7  # RA6
        self.max_resp = 120
        self.slots = 0


def _value(m, row):
    """Every readable register's bytes (the key registers have none)."""
    return bytes(m.model.read(row)) if row[4] & (registers.CLEAR_R | registers.KEY_R) else b""


class _Meter(fx.Stack):
    """The meter's DSAP-0 wiring over a real Store on RAM NOR flash; send() enters at the AL."""

    def send(self, lsdu, ecc):
        ctx = _Ctx(ecc)
        out = self.al.handle(lsdu, ctx)
        return (None if out is None else bytes(out)), ctx.ecc_out

    def snapshot(self):
        regs = tuple(_value(self, row) for row in registers.TABLE)
        return bytes(self.flash.mem), self.sec.lmon, regs, self.al.stats["read"]


def open_answer(lsdu, ecc, mon, kw=fx.K_WRITE, kr=fx.K_READ):
    """Decrypt + verify a sealed answer with the firmware primitives -> (attr, data, dt)."""
    key = kw if ecc & 4 else kr
    body = bytes(lsdu[1:])
    if ecc & 3 == 2:
        plain = crypto.ecb_decrypt(key, body)
    else:
        plain = crypto.ctr(key, tmac.ctr_iv(fx.ACA, mon, answer=True), body)
    data, dt, t = plain[:-16], plain[-16:-8], plain[-8:]
    want = tmac.tmac(key, lsdu[0], fx.ACA, mon, tmac.crc32(fx.ACA + data + dt))
    assert t == want, "answer TMAC"
    return lsdu[0], data, dt


def nack_lmon(lsdu, request):
    """LMON of a NACK-auth (verified against the refused request's last 8 bytes)."""
    assert len(lsdu) == 18 and lsdu[0] == 245 and lsdu[1] == 10, lsdu
    plain = crypto.ecb_decrypt(fx.K_READ, bytes(lsdu[2:]))
    lmon = int.from_bytes(plain[:8], "little")
    etm = bytes(request[1:])[-8:]
    crc = tmac.crc32(fx.ACA + b"\x0a" + etm)
    assert plain[8:] == tmac.tmac(fx.K_READ, 245, fx.ACA, lmon, crc), "NACK-auth TMAC"
    return lmon


class TestExchange(unittest.TestCase):
    def test_authenticated_read_ctr(self):
        m = _Meter()
        req = fx.request(READ, STATUS, 1, 1)
        out, ecc = m.send(req, 1)
        self.assertEqual(ecc, 1)
        attr, data, dt = open_answer(out, 1, 1)
        self.assertEqual(attr, 103)
        self.assertEqual(data, live.status_word(m))
        self.assertEqual(int.from_bytes(dt, "little"), fx.T_NOW)
        self.assertEqual(m.sec.lmon, 1)

    def test_write_key_request_answered_under_write_key(self):
        m = _Meter()
        out, ecc = m.send(fx.request(READ, STATUS, 1, 5), 5)
        self.assertEqual(ecc, 5)
        self.assertEqual(open_answer(out, 5, 1)[0], 103)
        with self.assertRaises(AssertionError):
            open_answer(out, 1, 1)  # not under the read key

    def test_ecb(self):
        sec, _ = fx.make()
        # ECB request: DATA empty (DT + TMAC = one block)
        r = sec.open(fx.request(118, b"", 1, 6), 6)
        self.assertEqual((r.kind, r.key, bytes(r.apdu)), (security.AUTH, "write", b""))
        out = sec.seal(r, 243, b"")  # empty answer DATA: stays ECB
        self.assertEqual(r.ecc_out, 6)
        self.assertEqual(len(out), 17)
        self.assertEqual(open_answer(bytes(out), 6, 1)[:2], (243, b""))
        r = sec.open(fx.request(102, b"", 2, 2), 2)
        out = sec.seal(r, 103, b"\x01\x02")  # answer DATA not empty: CTR, same key
        self.assertEqual(r.ecc_out, 1)
        self.assertEqual(open_answer(bytes(out), 1, 2)[1], b"\x01\x02")
        # ECB request with DATA: the encrypted part is not one block -> NACK-auth
        req = fx.request(102, STATUS, 3, 1)
        r = sec.open(req, 2)
        self.assertEqual((r.kind, r.reason), (security.ANSWER, "ecb_len"))
        self.assertEqual(nack_lmon(r.answer, req), 2)

    def test_dt_and_apdu_views(self):
        sec, _ = fx.make()
        dt = bytes(range(1, 9))
        r = sec.open(fx.request(104, b"\x12\x34\x56", 1, 5, dt=dt), 5)
        self.assertEqual((bytes(r.apdu), bytes(r.dt), r.attr), (b"\x12\x34\x56", dt, 104))


class TestLmon(unittest.TestCase):
    def test_only_lmon_plus_one(self):
        sec, _ = fx.make()
        for mon in (0, 2, 5, 1 << 40):
            req = fx.request(READ, STATUS, mon, 1)
            r = sec.open(req, 1)
            self.assertEqual(r.reason, "tmac", mon)
            self.assertEqual(nack_lmon(r.answer, req), 0)
        self.assertEqual(sec.open(fx.request(READ, STATUS, 1, 1), 1).kind, security.AUTH)

    def test_window_writes_and_restart_never_goes_back(self):
        m = _Meter(window=8)
        sec = m.sec
        for mon in range(1, 21):
            r = sec.open(fx.request(READ, STATUS, mon, 1), 1)
            self.assertEqual(r.kind, security.AUTH)
            sec.seal(r, 103, b"")
        self.assertEqual(sec.stats["lmon_writes"], 3)  # 1..8, 9..16, 17..24
        self.assertEqual(m.store.get(storekeys.LMON), (24).to_bytes(8, "big"))
        again = fx.make(Store(m.flash), 8)[0]  # a reset: LMON resumes at the ceiling
        self.assertEqual(again.lmon, 24)
        for mon in (20, 21, 24):
            self.assertEqual(again.open(fx.request(READ, STATUS, mon, 1), 1).reason, "tmac")
        self.assertEqual(again.open(fx.request(READ, STATUS, 25, 1), 1).kind, security.AUTH)

    def test_store_failure_refuses(self):
        sec, st = fx.make()
        st.fail = True
        r = sec.open(fx.request(READ, STATUS, 1, 1), 1)
        self.assertEqual((r.kind, r.reason, sec.lmon), (security.DROP, "store_err", 0))
        st.fail = False
        self.assertEqual(sec.open(fx.request(READ, STATUS, 1, 1), 1).kind, security.AUTH)

    def test_lmon_end(self):
        sec, st = fx.make()
        st.put(storekeys.LMON, b"\xff" * 8)
        sec = fx.make(st)[0]
        req = fx.request(READ, STATUS, 0, 1)
        r = sec.open(req, 1)
        self.assertEqual(r.reason, "lmon_end")
        self.assertEqual(nack_lmon(r.answer, req), (1 << 64) - 1)


class TestChallengeAndDuplicate(unittest.TestCase):
    def test_challenge(self):
        sec, _ = fx.make()
        sec.open(fx.request(READ, STATUS, 1, 1), 1)
        nonce = bytes(range(0xA0, 0xB0))
        r = sec.open(b"\x70\xbe\xef" + nonce, 0)
        self.assertEqual((r.kind, r.ecc_out), (security.ANSWER, 2))
        a = bytes(r.answer)
        self.assertEqual(a[:3], b"\x71\xbe\xef")
        plain = crypto.ecb_decrypt(fx.K_READ, a[3:])
        self.assertEqual(int.from_bytes(plain[:8], "little"), 1)
        crc = tmac.crc32(fx.ACA + nonce)
        self.assertEqual(plain[8:], tmac.tmac(fx.K_READ, 113, fx.ACA, 1, crc))
        self.assertEqual(sec.open(b"\x70" + nonce, 0).reason, "chl_len")
        self.assertEqual(sec.open(b"\x70\xbe\xef" + nonce, 1).reason, "ecc_plain")

    def test_duplicate_gets_cached_answer_without_the_application(self):
        m = _Meter()
        req = fx.request(READ, STATUS, 1, 1)
        first = m.send(req, 1)
        before = m.snapshot()
        self.assertEqual(m.send(req, 1), first)
        self.assertEqual(m.snapshot(), before)  # app not run (read count), LMON not advanced
        self.assertEqual(m.sec.stats["dup"], 1)
        self.assertEqual(m.send(req, 5)[0][0], 245)  # same bytes, other ECC: not a duplicate
        m.send(fx.request(READ, STATUS, 2, 1), 1)
        self.assertEqual(nack_lmon(m.send(req, 1)[0], req), 2)  # no longer the last one


class TestKeys(unittest.TestCase):
    def test_keys_provisioned_once_then_from_store(self):
        sec, st = fx.make()
        self.assertEqual(st.get(storekeys.KEY_WRITE), fx.K_WRITE)
        other = security.Security(st, fx.ACA, (bytes(16), bytes(16)), None)
        r = other.open(fx.request(READ, STATUS, 1, 1), 1)
        self.assertEqual(r.kind, security.AUTH)  # the stored keys win over the config

    def test_key_change_needs_the_write_key(self):
        sec, st = fx.make()
        new = bytes(range(0x40, 0x50))
        with self.assertRaises(ValueError):
            sec.set_key("read", new)  # outside any request
        r = sec.open(fx.request(104, b"\x00\x10" + new, 1, 1), 1)  # read key
        with self.assertRaises(ValueError):
            sec.set_key("read", new)
        sec.seal(r, 255, b"\x02")
        r = sec.open(fx.request(104, b"\x00\x10" + new, 2, 5), 5)
        sec.set_key("read", new)
        out = sec.seal(r, 243, b"")
        open_answer(bytes(out), 5, 2)  # this answer: still the request's key
        self.assertEqual(st.get(storekeys.KEY_READ), new)
        self.assertEqual(sec.open(fx.request(READ, STATUS, 3, 1), 1).reason, "tmac")
        r = sec.open(fx.request(READ, STATUS, 3, 1, kr=new), 1)
        self.assertEqual(r.kind, security.AUTH)
        with self.assertRaises(ValueError):
            sec.set_key("both", new)

    def test_write_key_change_answered_under_the_old_write_key(self):
        sec, st = fx.make()
        new = bytes(range(0x50, 0x60))
        r = sec.open(fx.request(104, b"\x00\x11" + new, 1, 5), 5)
        sec.set_key("write", new)
        out = sec.seal(r, 243, b"")
        open_answer(bytes(out), 5, 1)  # old K1
        with self.assertRaises(AssertionError):
            open_answer(bytes(out), 5, 1, kw=new)
        self.assertEqual(sec.open(fx.request(104, b"", 2, 6, kw=new), 6).key, "write")
        again = fx.make(st)[0]  # a restart: the new K1 from the store
        self.assertEqual(again.open(fx.request(104, b"", 33, 6, kw=new), 6).kind, security.AUTH)

    def test_keys_never_readable(self):
        m = _Meter()
        new = bytes(range(0x60, 0x70))
        r = m.sec.open(fx.request(104, new, 1, 5), 5)
        m.sec.set_key("write", new)
        m.sec.seal(r, 243, b"")
        texts = [repr(m.sec), repr(m.sec.status()), repr(m.sec._kw), repr(m.sec._kr), repr(r)]
        for row in registers.TABLE:
            texts.append(repr(_value(m, row)))
            texts.append(repr(m.send(bytes((2,)) + row[0].to_bytes(2, "big"), 0)[0]))
        blob = " ".join(texts)
        for k in (fx.K_WRITE, fx.K_READ, new):
            self.assertNotIn(k.hex(), blob)
            self.assertNotIn(repr(k), blob)
            self.assertNotIn(repr(k)[2:-1], blob)


class TestBadInput(unittest.TestCase):
    """Each refusal: the documented answer, and the whole state (flash bytes, LMON, every
    register, the application's counters) unchanged."""

    def setUp(self):
        self.m = _Meter()
        for mon in (1, 2):
            self.last = fx.request(READ, STATUS, mon, 1)
            self.m.send(self.last, 1)
        self.m.send(fx.request(READ, STATUS, 3, 1), 1)  # the last one: duplicates go elsewhere
        self.snap = self.m.snapshot()

    def refused(self, lsdu, ecc, reason):
        r_before = self.m.sec.stats[reason]
        out, ecc_out = self.m.send(lsdu, ecc)
        self.assertEqual(self.m.sec.stats[reason], r_before + 1, reason)
        self.assertEqual(self.m.snapshot(), self.snap, reason)
        if out is not None:
            self.assertEqual(ecc_out, 2)
            self.assertEqual(nack_lmon(out, lsdu), 3)
        return out

    def test_replayed_and_reordered(self):
        self.refused(self.last, 1, "tmac")  # replay of an older accepted request
        self.refused(fx.request(READ, STATUS, 5, 1), 1, "tmac")  # from the future (reordered)

    def test_truncated(self):
        good = fx.request(READ, STATUS, 4, 1)
        for n in range(2, len(good)):
            reason = "short" if n - 1 < 16 else "tmac"
            self.assertIsNotNone(self.refused(good[:n], 1, reason))
        self.refused(good[:1], 1, "short")

    def test_every_bit_flipped(self):
        good = fx.request(READ, STATUS, 4, 1)
        for i in range(1, len(good)):  # ATTR flips: see test_wrong_attr
            for b in range(8):
                bad = bytearray(good)
                bad[i] ^= 1 << b
                self.refused(bytes(bad), 1, "tmac")

    def test_wrong_attr(self):
        good = fx.request(READ, STATUS, 4, 1)
        self.refused(b"\x04" + good[1:], 1, "ecc_plain")
        self.refused(b"\x68" + good[1:], 1, "tmac")

    def test_wrong_key_and_wrong_ecc(self):
        self.refused(fx.request(READ, STATUS, 4, 1, kr=bytes(16)), 1, "tmac")
        self.refused(fx.request(READ, STATUS, 4, 5), 1, "tmac")  # write key, ECC says read
        self.refused(fx.request(READ, STATUS, 4, 1), 5, "tmac")
        self.refused(fx.request(READ, STATUS, 4, 1), 6, "ecb_len")
        self.refused(fx.request(READ, STATUS, 4, 1), 0, "clear_auth")
        self.assertIsNone(self.refused(fx.request(READ, STATUS, 4, 1), 3, "bad_ecc"))

    def test_over_long_and_empty(self):
        self.assertIsNone(self.refused(fx.request(READ, bytes(112), 4, 1), 1, "long"))
        self.assertIsNone(self.refused(b"", 1, "empty"))
        self.assertIsNotNone(self.refused(fx.request(READ, bytes(111), 7, 1), 1, "tmac"))

    def test_authenticated_broadcast_dropped(self):
        ctx = _Ctx(1)
        ctx.broadcast = True
        self.assertIsNone(self.m.al.handle(fx.request(READ, STATUS, 4, 1), ctx))
        self.assertEqual(self.m.snapshot(), self.snap)


class TestHeap(unittest.TestCase):
    def test_crypto_path_allocates_nothing(self):
        sec, _ = fx.make(window=1 << 20)  # no LMON record inside the locked section
        data = bytes(8)
        nonce = b"\x70\x00\x01" + bytes(16)
        reqs = [fx.request(READ, STATUS, mon, 1) for mon in range(1, 5)]
        todo = reqs[1:]
        bad = fx.request(READ, STATUS, 9, 5)
        r = sec.open(reqs[0], 1)  # warm-up: views for these lengths are made once
        sec.seal(r, 103, data)
        sec.open(nonce, 0)
        micropython.heap_lock()
        try:
            for req in todo:
                r = sec.open(req, 1)
                kind = r.kind
                sec.seal(r, 103, data)
                dup = sec.open(req, 1).kind
                nack = sec.open(bad, 5).reason
                chl = sec.open(nonce, 0).kind
        finally:
            micropython.heap_unlock()
        self.assertEqual((kind, dup, nack, chl), (security.AUTH, security.ANSWER, "tmac", 2))
        self.assertEqual(sec.lmon, 4)


class TestMeterWiring(unittest.TestCase):
    """app.Meter builds meter.sec from the config keys; they never show in its status."""

    def _meter(self, flash):
        import app
        import config
        from clock import Clock
        from hw import Hardware

        hw = Hardware("unix_sim", clock=Clock(), flash=flash, rtc=fx.Rtc(fx.T_NOW))
        cfg = config.load(overrides={"aca": fx.ACA.hex(), "seed": 1})
        return app.Meter(hw, cfg), cfg

    def test_meter_sec_and_status_without_keys(self):
        flash = RamFlash(4096, 3)
        m, cfg = self._meter(flash)
        kw, kr = bytes.fromhex(cfg["key_write"]), bytes.fromhex(cfg["key_read"])
        sec = m.sec
        r = sec.open(fx.request(READ, STATUS, 1, 1, kw=kw, kr=kr), 1)
        self.assertEqual(r.kind, security.AUTH)
        blob = repr(m.status()) + repr(sec) + repr(m.al.stats) + repr(m.hw) + repr(m.mac.stats)
        for k in (kw, kr):
            self.assertNotIn(k.hex(), blob)
            self.assertNotIn(repr(k)[2:-1], blob)
        self.assertEqual(m.status()["sec"]["lmon"], 1)
        # a restart on the same flash: keys from the store, LMON from its ceiling
        again, _ = self._meter(flash)
        self.assertEqual(again.sec.lmon, security.LMON_WINDOW)


class TestPowerCutInLmonRecord(unittest.TestCase):
    """Power cut at every byte the LMON ceiling write programs or erases (appends and a
    compaction, window 1 so every request writes): after remount LMON is never below the last
    MON that open() accepted, the cut request counts as accepted only if its record is whole,
    and replays of accepted requests are refused."""

    def test_every_cut(self):
        from test_store import PowerCut, RamFlash

        flash = RamFlash(block_size=256, n_blocks=3)
        fx.make(Store(flash), window=1)  # provisions the keys
        reqs = []
        cuts = 0
        for mon in range(1, 13):  # 256-byte blocks: several of these writes compact
            snap = flash.snapshot()
            req = fx.request(READ, STATUS, mon, 1)
            cut = 0
            while True:
                flash.restore(snap)
                flash.budget = cut
                s = fx.make(Store(flash), window=1)[0]
                try:
                    kind = s.open(req, 1).kind
                except PowerCut:
                    kind = None
                flash.budget = -1
                after = fx.make(Store(flash), window=1)[0]
                self.assertGreaterEqual(after.lmon, mon - 1, (mon, cut))
                if kind == security.AUTH:
                    self.assertEqual(after.lmon, mon, (mon, cut))
                for old in reqs:
                    self.assertEqual(after.open(old, 1).reason, "tmac", (mon, cut))
                if kind == security.AUTH:
                    break
                cuts += 1
                cut += 1
            reqs.append(req)
        self.assertGreater(cuts, 12 * 32)  # every byte of every 32-byte record, and more
        self.assertGreaterEqual(
            Store(flash).stats()["generation"], 3
        )  # compactions were cut  # every byte of every record, more for compactions
