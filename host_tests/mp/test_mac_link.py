"""mac.link.Mac as a single node: address filter, answers per discipline, app hook, timing,
duplicates, transmit slot."""

import unittest

from faults import Faults
from mac import timing
from mac.frame import OK, Frame
from mac_util import BCAST, Info, Params, Rng, aca, air, echo_app, mk, new_mac

ME = aca(1)
OTHER = aca(2)
R1 = aca(3)
SCA = bytes.fromhex("563412070903")


def parse(b):
    f = Frame()
    assert f.parse(b) == OK
    return f


class TestMacLink(unittest.TestCase):
    def setUp(self):
        self.calls = []
        self.mac = new_mac(ME, rng=Rng(7), app=self.app, params=Params(sca=SCA))
        self.answer = None

    def app(self, lsdu, ctx):
        self.calls.append(
            (
                bytes(lsdu),
                ctx.dsap,
                ctx.ecc,
                ctx.poll,
                ctx.disc,
                ctx.max_resp,
                ctx.broadcast,
                bytes(ctx.route),
                ctx.nrp,
                ctx.in_phase,
                ctx.rssi,
            )
        )
        if self.answer is not None:
            return self.answer(lsdu, ctx)
        return echo_app(lsdu, ctx)

    def test_mac_address_filter(self):
        m = self.mac
        m.on_rx(mk(ME), None, 0)
        m.on_rx(mk(OTHER), None, 1000)
        m.on_rx(mk(BCAST, disc=0), None, 2000)
        m.on_rx(mk(SCA, disc=0), None, 3000)
        m.on_rx(mk(bytes.fromhex("563412070a03"), disc=0), None, 4000)  # other node, same section
        self.assertEqual(len(self.calls), 3)
        self.assertEqual(m.stats.not_mine, 2)
        self.assertTrue(self.calls[1][6])

    def test_mac_answer_after_tel(self):
        m = self.mac
        m.on_rx(mk(ME, disc=2, tag=3, lsdu=b"\x02\x00\x3f"), Info(rssi=70, t_end_ms=5000), 5000)
        self.assertEqual(m.next_deadline_ms(), 5020)
        self.assertIsNone(m.poll(5019))
        out = m.poll(5020)
        self.assertEqual(out, mk(ME, disc=2, up=1, tag=3, hop=1, poll=0, lsdu=b"\x03\x00\x3f"))
        self.assertIsNone(m.poll(5021))
        self.assertEqual(m.stats.answered, 1)
        self.assertEqual(self.calls[0][:6], (b"\x02\x00\x3f", 0, 0, 1, 2, 20))
        self.assertEqual(self.calls[0][10], 70)

    def test_mac_custom_tel(self):
        m = new_mac(ME, rng=Rng(1), app=echo_app, params=Params(tel_ms=7, tc_ms=100))
        m.on_rx(mk(ME), None, 100)
        self.assertEqual(m.next_deadline_ms(), 107)

    def test_mac_each_discipline_limit(self):
        for d in range(16):
            limit = timing.answer_limit(d)
            for size in (1, 20, 30, 50, 90, 128):
                m = new_mac(ME, rng=Rng(d), app=lambda lsdu, ctx, s=size: b"\x03" + bytes(s - 1))
                m.on_rx(mk(ME, disc=d), None, 0)
                sent = m.poll(10**6)
                with self.subTest(disc=d, size=size):
                    if limit == 0:
                        self.assertIsNone(sent)
                        self.assertEqual(m.stats.resp_s, 1)
                    elif size > limit:
                        self.assertIsNone(sent)
                        self.assertEqual(m.stats.resp_too_long, 1)
                    else:
                        self.assertEqual(parse(sent).lsdu_len, size)

    def test_mac_rc_answer_in_a_slot(self):
        for d in (12, 13, 14, 15):
            slots = timing.rc_slots(d)
            starts = set()
            for seed in range(60):
                m = new_mac(ME, rng=Rng(seed + 100 * d), app=echo_app)
                m.on_rx(mk(BCAST, disc=d), None, 1000)
                t = m.next_deadline_ms()
                k, r = divmod(t - 1000 - 20, 250)
                self.assertEqual(r, 0)
                self.assertTrue(0 <= k < slots)
                starts.add(k)
                self.assertIsNone(m.poll(t - 1))
                self.assertIsNotNone(m.poll(t))
            self.assertGreater(len(starts), min(slots, 60) // 3)

    def test_mac_ctx_contents(self):
        m = self.mac
        # routed, ECC 5, DSAP 0, received at the last hop (hop == nrp)
        m.on_rx(mk(ME, disc=11, route=(R1,), hop=1, ecc=5, poll=0), Info(in_phase=False), 0)
        c = self.calls[0]
        self.assertEqual(c[1:9], (0, 5, 0, 11, 50, False, R1, 1))
        self.assertEqual(c[9], False)

    def test_mac_answer_keeps_route_and_ecc(self):
        m = self.mac

        def ans(lsdu, ctx):
            ctx.ecc_out = 2
            return b"\xf5\x0a"

        self.answer = ans
        m.on_rx(mk(ME, disc=3, route=(R1, OTHER), hop=2, tag=4, ecc=1), None, 0)
        out = m.poll(100)
        self.assertEqual(
            out,
            mk(ME, disc=3, route=(R1, OTHER), up=1, tag=4, hop=3, poll=0, ecc=2, lsdu=b"\xf5\x0a"),
        )

    def test_mac_sca_answer_uses_own_sca(self):
        m = self.mac
        m.on_rx(mk(SCA, disc=2, route=(b"\x07\x01",), hop=1), None, 0)
        out = m.poll(100)
        self.assertEqual(
            out, mk(SCA, disc=2, route=(b"\x07\x01",), up=1, hop=2, poll=0, lsdu=b"\x03\x00\x3f")
        )

    def test_mac_not_final_hop_ignored(self):
        m = self.mac
        # addressed to me but still travelling (hop 0 of a 1-repeater route): not delivered
        m.on_rx(mk(ME, route=(R1,), hop=0), None, 0)
        self.assertEqual(self.calls, [])
        self.assertEqual(m.stats.not_mine, 1)
        # uplink frames are not requests
        m.on_rx(mk(ME, up=1, hop=1), None, 0)
        self.assertEqual(self.calls, [])

    def test_mac_app_errors_never_escape(self):
        def boom(lsdu, ctx):
            raise ValueError("app bug")

        faults = Faults(now_ms=lambda: 77)
        m = new_mac(ME, rng=Rng(1), app=boom, faults=faults)
        m.on_rx(mk(ME), None, 0)
        self.assertEqual(m.stats.app_error, 1)
        self.assertEqual(faults.recent(), [("ValueError", "mac.app", 77)])
        self.assertIsNone(m.poll(1000))
        m = new_mac(ME, rng=Rng(1), app=lambda lsdu, ctx: 12345, faults=faults)  # not bytes
        m.on_rx(mk(ME), None, 0)
        self.assertEqual(m.stats.app_error, 1)
        self.assertEqual(faults.count, 2)
        self.assertEqual(faults.recent()[1][:2], ("TypeError", "mac.app"))
        # strict (as every other test here): the app's exception reaches the test
        m = new_mac(ME, rng=Rng(1), app=boom)
        self.assertRaises(ValueError, m.on_rx, mk(ME), None, 0)
        # not even a frame: counted as internal and recorded, never raised outside strict mode
        m = new_mac(ME, rng=Rng(1), faults=faults)
        m.on_rx(None, None, 0)
        self.assertEqual((m.stats.internal, faults.recent()[2][:2]), (1, ("TypeError", "mac.rx")))
        m.on_rx(b"\x00" * 3, None, 0)
        self.assertEqual(m.stats.rx_rejected["short"], 1)

    def test_mac_times_answer_from_frame_end(self):
        # the PHY hands the frame up 13 ms after it ended on the air: TEL runs from the end
        m = self.mac
        m.on_rx(mk(ME, tag=1), Info(t_end_ms=4990), 5003)
        self.assertEqual(m.next_deadline_ms(), 4990 + 20)
        self.assertIsNotNone(m.poll(5010))
        m.tx_done(5500)
        self.assertEqual(m.stats.tx_late, 0)
        # handed up after TEL has already passed: answered at once, and counted late
        m.on_rx(mk(ME, tag=2), Info(t_end_ms=6000), 6030)
        self.assertEqual(m.next_deadline_ms(), 6020)
        self.assertIsNotNone(m.poll(6030))
        m.tx_done(6500)
        self.assertEqual(m.stats.tx_late, 1)
        # a repeated frame too: RC2 via this meter, handed up 10 ms late
        m.on_rx(mk(OTHER, disc=13, route=(ME,), hop=0, tag=3), Info(t_end_ms=7000), 7010)
        self.assertEqual(m.next_deadline_ms(), 7020)

    def test_mac_no_app_no_answer(self):
        m = new_mac(ME, rng=Rng(1))
        m.on_rx(mk(ME), None, 0)
        self.assertEqual(m.stats.delivered, 1)
        self.assertIsNone(m.next_deadline_ms())

    def test_mac_duplicates(self):
        m = self.mac
        f = mk(ME, disc=0)
        m.on_rx(f, None, 0)
        m.on_rx(f, None, 150)
        self.assertEqual(len(self.calls), 1)
        self.assertEqual(m.stats.dup, 1)
        m.on_rx(f, None, 400)  # the window runs from the first copy (0..200 ms)
        self.assertEqual(len(self.calls), 2)
        m.on_rx(mk(ME, disc=0, tag=1), None, 410)  # a retry with another tag is not a duplicate
        self.assertEqual(len(self.calls), 3)

    def test_mac_dup_ring_wraps(self):
        m = self.mac
        for i in range(10):
            m.on_rx(mk(ME, disc=0, lsdu=bytes((2, i))), None, i)
        m.on_rx(mk(ME, disc=0, lsdu=bytes((2, 0))), None, 20)  # evicted from the 8-entry ring
        self.assertEqual(len(self.calls), 11)
        m.on_rx(mk(ME, disc=0, lsdu=bytes((2, 9))), None, 21)
        self.assertEqual(len(self.calls), 11)

    def test_mac_single_tx_slot(self):
        m = self.mac
        m.on_rx(mk(ME, tag=1), None, 0)
        m.on_rx(mk(ME, tag=2), None, 5)
        self.assertEqual(m.stats.tx_overrun, 1)
        self.assertTrue(m.tx_pending())
        self.assertIsNotNone(m.poll(20))
        self.assertFalse(m.tx_pending())

    def test_mac_on_air_blocks_next_tx(self):
        m = self.mac
        m.on_rx(mk(ME, tag=1), None, 0)
        out = m.poll(20)
        a = air(len(out))
        m.on_rx(mk(ME, tag=2), None, 21)  # answer due at 41, PHY still busy until 20+air
        self.assertEqual(m.next_deadline_ms(), 20 + a)
        self.assertIsNone(m.poll(41))
        m.tx_done(50)  # PHY reports the end earlier than estimated
        self.assertIsNotNone(m.poll(50))

    def test_mac_config_validation(self):
        self.assertRaises(ValueError, new_mac, ME[:5])
        self.assertRaises(ValueError, Params, sca=bytes.fromhex("010203040506"))
        self.assertRaises(ValueError, Params, aca_al0=6)
        m = new_mac(ME, params=Params(sca=None, tel_ms=30))
        self.assertIsNone(m.sca)
        self.assertEqual(m.tel, 30)
        self.assertIn("rx_rejected", repr(m.stats))


class TestMacHeap(unittest.TestCase):
    def test_mac_rx_paths_heap_lock(self):
        import micropython

        m = new_mac(ME, rng=Rng(1))
        down = mk(OTHER, disc=3, route=(ME, R1), hop=0)
        up = mk(OTHER, disc=3, route=(ME, R1), up=1, hop=2, lsdu=b"\x03\x00")
        bad = mk(OTHER, ecc=3)
        foreign = mk(OTHER, route=(R1,), hop=1)
        for t in (0, 1000):  # warm up every path once
            m.on_rx(down, None, t)
            m.poll(t + 500)
            m.tx_done(t + 500)
            m.on_rx(up, None, t + 600)
            m.poll(t + 900)
            m.tx_done(t + 900)
        micropython.heap_lock()
        try:
            m.on_rx(down, None, 5000)  # repeat work, busy timer, dup ring
            m.on_rx(bad, None, 5001)  # rejection
            m.on_rx(foreign, None, 5002)  # not mine
        finally:
            micropython.heap_unlock()
        m.poll(6000)
        m.tx_done(6000)
        micropython.heap_lock()
        try:
            m.on_rx(up, None, 6100)  # uplink relay
        finally:
            micropython.heap_unlock()
        s = m.stats
        self.assertEqual((s.internal, s.repeated, s.relayed, s.not_mine), (0, 3, 3, 1))
        self.assertEqual(s.rx_rejected["ecc"], 1)
