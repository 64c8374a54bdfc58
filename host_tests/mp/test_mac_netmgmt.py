"""Network management (DSAP 2), slave side: ADDRESS.REQ filters, TCT_SET and NACK.RESP,
persistence, REQADDR rounds."""

import unittest

import storekeys
from faults import Faults
from mac import timing
from mac.frame import OK, Frame
from mac_util import (
    BCAST,
    DictStore,
    Info,
    Medium,
    Params,
    Rng,
    aca,
    air,
    echo_app,
    mk,
    new_mac,
)

ME = aca(1)  # ACA_AL[0] = 0x11


def addr_req(phase=2, tcr=0x55, add=0, shift=0, disc=13, addr=BCAST, tag=0, ecc=0):
    return mk(addr, disc=disc, dsap=2, ecc=ecc, tag=tag, lsdu=bytes((90, phase, tcr, add, shift)))


def tct_set(v, poll=1, addr=ME, disc=2, extra=b""):
    return mk(addr, disc=disc, dsap=2, poll=poll, lsdu=bytes((92, v)) + extra)


def parse(b):
    f = Frame()
    assert f.parse(b) == OK, b
    return f


def answer(m, t=None):
    """The frame the Mac sends at t (default: its next deadline); the PHY finishes at once."""
    if t is None:
        t = m.next_deadline_ms()
        if t is None:
            return None
    out = m.poll(t)
    m.tx_done(t)
    return None if out is None else parse(out)


class StoreBoom:
    def get(self, key):
        raise OSError(5)

    def put(self, key, v):
        raise OSError(5)


class TestMacNetMgmt(unittest.TestCase):
    def mac(self, **kw):
        kw.setdefault("rng", Rng(3))
        return new_mac(ME, **kw)

    def test_mac_nm_address_resp_format(self):
        m = self.mac()
        m.on_rx(addr_req(tag=5), Info(rssi=80, snr=50, in_phase=True), 1000)
        t = m.next_deadline_ms()
        self.assertEqual((t - 1020) % 250, 0)
        self.assertLess(t - 1020, 16 * 250)
        f = answer(m, t)
        self.assertEqual(
            (f.up, f.hop, f.dsap, f.ecc, f.poll, f.tag, f.disc), (1, 1, 2, 0, 0, 5, 13)
        )
        self.assertEqual(bytes(f.addr_mv()), ME)
        self.assertEqual(bytes(f.lsdu_mv()), b"\x5b" + ME + bytes((80, 50, 255)) + b"\xff" * 3)

    def test_mac_nm_metric_averages(self):
        m = self.mac()
        m.on_rx(mk(aca(5), disc=0), Info(rssi=80, snr=40, tx_imp=1), 0)  # not for me, hop 0
        m.on_rx(mk(aca(5), disc=0, route=(aca(6),), hop=1), Info(rssi=0, snr=0), 0)  # hop 1
        m.on_rx(addr_req(), Info(rssi=40, snr=9), 100)
        lsdu = bytes(answer(m).lsdu_mv())
        # (80 + (40 - 80) / 4) = 70; SNR (40 + (9 - 40) / 4) quarter-dB = 32.25 -> 32
        self.assertEqual(lsdu[7:10], bytes((70, 32, 1)))
        m2 = self.mac()
        m2.tx_imp = 2
        m2.on_rx(addr_req(), Info(rssi=300, snr=-12), 0)
        self.assertEqual(bytes(answer(m2).lsdu_mv())[7:10], bytes((254, 0, 2)))
        m3 = self.mac()
        m3.on_rx(addr_req(), None, 0)
        self.assertEqual(bytes(answer(m3).lsdu_mv())[7:10], b"\xff\xff\xff")

    def test_mac_nm_phase_filter(self):
        cases = [
            (1, True, True),
            (1, False, False),
            (1, None, True),
            (2, False, True),
            (2, True, True),
            (0, True, False),
            (3, True, False),
        ]
        for phase, in_phase, want in cases:
            m = self.mac()
            m.on_rx(addr_req(phase=phase), Info(in_phase=in_phase), 0)
            with self.subTest(phase=phase, in_phase=in_phase):
                self.assertEqual(m.tx_pending(), want)
                if not want:
                    self.assertEqual(m.stats.nm_filtered, 1)

    def test_mac_nm_tct_vs_tcr(self):
        m = self.mac(store=DictStore())
        self.assertEqual(m.tct, 0xFF)
        m.on_rx(addr_req(tcr=0xFF), None, 0)
        self.assertIsNotNone(answer(m))
        m.on_rx(tct_set(1, poll=0), None, 1000)
        self.assertEqual(m.tct, 1)
        m.on_rx(addr_req(tcr=0x55, tag=1), None, 2000)
        self.assertFalse(m.tx_pending())
        m.on_rx(addr_req(tcr=1, tag=2), None, 3000)
        self.assertTrue(m.tx_pending())

    def test_mac_nm_address_filter_bits(self):
        # ACA_AL[0] = 0x11
        cases = [
            (0, 0, True),
            (0, 1, False),  # 0x11 odd
            (1, 1, True),
            (0x0F, 4, True),  # 0x20 & 0x0F == 0
            (0x0E, 4, False),
            (0xEF, 8, True),  # 0x100 & 0xFF == 0
            (0xEF, 9, False),  # 0x100 & 0x1FF != 0
            (0xEF, 200, False),  # shift clamped to 16
            (0x0F, 5, True),
            (0x0F, 6, False),
        ]
        for add, shift, want in cases:
            m = self.mac()
            m.on_rx(addr_req(add=add, shift=shift), None, 0)
            with self.subTest(add=add, shift=shift):
                self.assertEqual(m.tx_pending(), want)
        # ACA_AL[0] taken from another wire byte (config) : aca(1)[5] = 0x61
        m = self.mac(params=Params(aca_al0=5))
        m.on_rx(addr_req(add=0x1F, shift=5), None, 0)  # 0x61 + 0x1F = 0x80
        self.assertTrue(m.tx_pending())

    def test_mac_nm_bad_requests(self):
        m = self.mac()
        m.on_rx(addr_req(ecc=1), None, 0)  # NM must be clear text
        m.on_rx(mk(BCAST, disc=13, dsap=2, lsdu=b"\x5a\x02\x55\x00"), None, 1000)  # 3 bytes
        m.on_rx(mk(ME, disc=2, dsap=2, lsdu=b"\x63"), None, 2000)  # unknown ATTR
        m.on_rx(mk(ME, disc=2, dsap=2, lsdu=b"\x5e\x02"), None, 3000)  # REQADDR short
        self.assertEqual(m.stats.nm_bad, 4)
        self.assertFalse(m.tx_pending())

    def test_mac_nm_address_req_s_discipline(self):
        m = self.mac()
        m.on_rx(addr_req(disc=0), None, 0)
        self.assertFalse(m.tx_pending())
        self.assertEqual(m.stats.resp_s, 1)

    def test_mac_nm_tct_set_and_nack(self):
        st = DictStore()
        m = self.mac(store=st)
        m.on_rx(tct_set(7, poll=0), None, 0)
        self.assertEqual((m.tct, m.stats.tct_set), (7, 1))
        self.assertFalse(m.tx_pending())
        self.assertEqual(st.d[storekeys.TCT], b"\x07")
        m.on_rx(tct_set(9), Info(rssi=60, snr=20), 1000)
        f = answer(m, 1020)
        self.assertEqual((f.dsap, f.ecc, f.up), (2, 0, 1))
        self.assertEqual(bytes(f.lsdu_mv()), bytes((247, 0, 60, 20, 255)))
        self.assertEqual(m.tct, 9)
        # 0 is refused; with poll -> NACK.RESP status 1, TCT unchanged
        m.on_rx(tct_set(0), None, 2000)
        self.assertEqual(bytes(answer(m).lsdu_mv())[:2], bytes((247, 1)))
        self.assertEqual((m.tct, m.stats.tct_refused), (9, 1))
        m.on_rx(tct_set(0, poll=0), None, 3000)
        self.assertFalse(m.tx_pending())
        # wrong length refused
        m.on_rx(tct_set(5, extra=b"\x00"), None, 4000)
        self.assertEqual(bytes(answer(m).lsdu_mv())[:2], bytes((247, 1)))
        self.assertEqual(m.tct, 9)
        # broadcast TCT_SET 0xFF with poll in RC: answer in a slot
        m.on_rx(tct_set(0xFF, addr=BCAST, disc=12), None, 5000)
        self.assertEqual(m.tct, 0xFF)
        t = m.next_deadline_ms()
        self.assertTrue(5020 <= t < 5020 + 8 * 250)
        self.assertEqual(bytes(answer(m, t).lsdu_mv())[:2], bytes((247, 0)))

    def test_mac_nm_tct_persistence(self):
        st = DictStore()
        m = self.mac(store=st)
        m.on_rx(tct_set(42, poll=0), None, 0)
        puts = st.puts
        m.on_rx(tct_set(42, poll=0, disc=0), None, 1000)  # same value: no flash write
        self.assertEqual(st.puts, puts)
        m2 = self.mac(store=st)
        self.assertEqual(m2.tct, 42)
        for bad in (b"", b"\x00", b"\x01\x02"):
            st.d[storekeys.TCT] = bad
            self.assertEqual(self.mac(store=st).tct, 0xFF)
        m3 = self.mac(store=st, tct_key=77)
        m3.on_rx(tct_set(3, poll=0), None, 0)
        self.assertEqual(st.d[77], b"\x03")

    def test_mac_nm_store_errors(self):
        faults = Faults()
        m = self.mac(store=StoreBoom(), faults=faults)
        self.assertEqual(m.tct, 0xFF)
        m.on_rx(tct_set(3, poll=0), None, 0)
        self.assertEqual(m.tct, 3)
        self.assertEqual(m.stats.store_err, 2)
        self.assertEqual(m.stats.internal, 0)
        self.assertEqual(
            faults.recent(), [("OSError", "mac.tct_load", 0), ("OSError", "mac.tct_store", 0)]
        )


def reqaddr(to, disc=4, route=(), tag=3, apdu=b"\x02\x55\x00\x00"):
    return mk(to, disc=disc, route=route, dsap=2, tag=tag, lsdu=b"\x5e" + apdu)


class TestMacReqAddr(unittest.TestCase):
    def star(self, nn, route=False):
        x = aca(1)
        nodes = {"X": new_mac(x, rng=Rng(1), app=echo_app)}
        links = []
        if route:
            nodes["R"] = new_mac(aca(2), rng=Rng(2), app=echo_app)
            links += [("M", "R"), ("R", "X")]
        else:
            links.append(("M", "X"))
        for i in range(nn):
            n = "N%d" % i
            nodes[n] = new_mac(aca(3 + i), rng=Rng(100 + i), app=echo_app)
            links.append(("X", n))
        return Medium(nodes, links), x

    def test_mac_reqaddr_collects_four(self):
        med, x = self.star(6)
        req = reqaddr(x)
        med.send("M", req, 0)
        rx_end = air(len(req))
        med.run(rx_end + 100)
        # X broadcast its own ADDRESS.REQ after TEL: NOR broadcast RC4, poll, DSAP 2, same APDU
        t_b, src, bc = med.log[1]
        self.assertEqual((t_b, src), (rx_end + 20, "X"))
        self.assertEqual(bc, mk(BCAST, disc=15, dsap=2, tag=3, lsdu=b"\x5a\x02\x55\x00\x00"))
        deadline = t_b + air(len(bc)) + timing.reqaddr_round_ms(air)
        med.run(deadline - 1)
        self.assertEqual(med.master_rx, [])
        med.run(deadline + 1000)
        self.assertEqual(len(med.master_rx), 1)
        t, resp = med.master_rx[0]
        f = parse(resp)
        self.assertEqual(t, deadline + air(len(resp)))
        self.assertEqual(
            (bytes(f.addr_mv()), f.up, f.hop, f.tag, f.dsap, f.disc), (x, 1, 1, 3, 2, 4)
        )
        lsdu = bytes(f.lsdu_mv())
        self.assertEqual((lsdu[0], lsdu[1], len(lsdu)), (95, 4, 50))
        acas = set()
        neigh = [aca(3 + i) for i in range(6)]
        for k in range(4):
            e = lsdu[2 + 12 * k : 14 + 12 * k]
            self.assertIn(e[:6], neigh)
            self.assertEqual(e[6:9], bytes((80, 50, 255)))  # 80 dBuV, 12.5 dB
            self.assertEqual(e[9:], b"\xff\xff\xff")
            acas.add(e[:6])
        self.assertEqual(len(acas), 4)
        self.assertEqual(med.nodes["X"].stats.nm_collected, 4)
        self.assertEqual(med.nodes["X"].stats.nm_extra, 2)

    def test_mac_reqaddr_fewer_and_limited(self):
        med, x = self.star(2)
        med.send("M", reqaddr(x, disc=4), 0)
        med.run(20000)
        lsdu = bytes(parse(med.master_rx[0][1]).lsdu_mv())
        self.assertEqual((lsdu[1], len(lsdu)), (2, 26))
        # RA1 (20 bytes) carries one entry
        med, x = self.star(3)
        med.send("M", reqaddr(x, disc=2), 0)
        med.run(20000)
        lsdu = bytes(parse(med.master_rx[0][1]).lsdu_mv())
        self.assertEqual((lsdu[1], len(lsdu)), (1, 14))
        # nobody answers (TCR above everyone's TCT is impossible: use the address filter)
        med, x = self.star(3)
        med.send("M", reqaddr(x, apdu=b"\x02\x01\x00\x08"), 0)  # (al0 + 0) & 0xFF != 0
        med.run(20000)
        self.assertEqual(bytes(parse(med.master_rx[0][1]).lsdu_mv()), b"\x5f\x00")

    def test_mac_reqaddr_via_repeater(self):
        med, x = self.star(3, route=True)
        req = reqaddr(x, disc=4, route=(aca(2),))
        med.send("M", req, 0)
        med.run(20000)
        # R is in X's range too, so it answers X's ADDRESS.REQ (the master overhears that)
        resp = [fr for _, fr in med.master_rx if parse(fr).attr == 95]
        self.assertEqual(len(resp), 1)
        f = parse(resp[0])
        self.assertEqual((f.nrp, f.hop, f.up), (1, 1, 1))
        lsdu = bytes(f.lsdu_mv())
        self.assertEqual(lsdu[:2], b"\x5f\x04")
        self.assertIn(aca(2), [lsdu[2 + 12 * k : 8 + 12 * k] for k in range(4)])
        r = med.nodes["R"]
        self.assertEqual((r.stats.repeated, r.stats.relayed), (1, 1))
        # R's busy period ended long before the late answer: relaying is stateless
        self.assertFalse(r.busy.active)

    def test_mac_reqaddr_busy_and_s(self):
        m = new_mac(aca(1), rng=Rng(1))
        m.on_rx(reqaddr(aca(1)), None, 0)
        self.assertIsNotNone(m.poll(20))
        m.on_rx(reqaddr(aca(1), tag=4), None, 1000)
        self.assertEqual(m.stats.nm_busy, 1)
        # S request: the round runs, nothing is sent at the end
        m = new_mac(aca(1), rng=Rng(1))
        m.on_rx(reqaddr(aca(1), disc=0), None, 0)
        self.assertIsNotNone(m.poll(20))
        d = m.next_deadline_ms()
        self.assertIsNone(m.poll(d))
        self.assertIsNone(m.next_deadline_ms())
        self.assertEqual(m.nm.round, 0)
