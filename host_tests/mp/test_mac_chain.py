"""Repetition across chains of repeaters in a simulated medium (several Mac objects in-process)."""

import unittest

from mac import timing
from mac.frame import OK, Frame
from mac_util import BCAST, Medium, Params, Rng, aca, air, echo_app, mk, new_mac


def chain(n, extra_links=(), app=echo_app, params=None):
    """M - R1 - ... - Rn - D; returns (medium, names, acas)."""
    names = ["R%d" % (i + 1) for i in range(n)] + ["D"]
    acas = {nm: aca(i + 1) for i, nm in enumerate(names)}
    nodes = {}
    for i, nm in enumerate(names):
        nodes[nm] = new_mac(acas[nm], rng=Rng(i + 1), app=app, params=params)
    path = ["M"] + names
    links = [(path[i], path[i + 1]) for i in range(len(path) - 1)] + list(extra_links)
    return Medium(nodes, links), names, acas


def parse(b):
    f = Frame()
    assert f.parse(b) == OK, b
    return f


class TestMacChain(unittest.TestCase):
    def _exchange(self, nrep, disc=4, extra_links=()):
        med, names, acas = chain(nrep, extra_links)
        route = tuple(acas[n] for n in names[:-1])
        req = mk(acas["D"], disc=disc, route=route, tag=2, lsdu=b"\x02\x00\x3f\x11")
        med.send("M", req, 0)
        timeout = timing.response_timeout_ms(air, disc, nrep, 6, len(req))
        med.run(timeout)
        return med, names, acas, route, req, timeout

    def test_mac_four_repeaters_round_trip(self):
        med, names, acas, route, req, timeout = self._exchange(4)
        self.assertEqual(len(med.master_rx), 1)
        t, ans = med.master_rx[0]
        self.assertLessEqual(t, timeout)
        self.assertEqual(
            ans,
            mk(
                acas["D"],
                disc=4,
                route=route,
                up=1,
                tag=2,
                hop=1,
                poll=0,
                lsdu=b"\x03\x00\x3f\x11",
            ),
        )
        # 4 forwards down, the answer, 4 relays up
        self.assertEqual(len(med.log), 10)
        for i, n in enumerate(names[:-1]):
            self.assertEqual(med.nodes[n].stats.repeated, 1)
            self.assertEqual(med.nodes[n].stats.relayed, 1)
            f = parse(med.log[i + 1][2])
            self.assertEqual((med.log[i + 1][1], f.up, f.hop), (n, 0, i + 1))
        self.assertEqual(med.nodes["D"].stats.answered, 1)
        self.assertEqual(med.overlaps, 0)
        # each hop waits exactly TEL after the end of the previous frame
        for i in range(1, len(med.log)):
            prev_end = med.log[i - 1][0] + air(len(med.log[i - 1][2]))
            self.assertEqual(med.log[i][0], prev_end + 20)

    def test_mac_eight_repeaters(self):
        med, names, acas, route, req, timeout = self._exchange(8, disc=3)
        self.assertEqual(len(med.master_rx), 1)
        self.assertLessEqual(med.master_rx[0][0], timeout)
        f = parse(med.master_rx[0][1])
        self.assertEqual((f.nrp, f.up, f.hop, bytes(f.lsdu_mv())), (8, 1, 1, b"\x03\x00\x3f\x11"))

    def test_mac_overhearing_does_not_confuse_hops(self):
        # everybody hears two positions ahead and behind: hop index decides who acts
        extra = [("M", "R2"), ("R1", "R3"), ("R2", "R4"), ("R3", "D"), ("M", "R3")]
        med, names, acas, route, req, timeout = self._exchange(4, extra_links=extra)
        self.assertEqual(len(med.master_rx), 1)
        for n in names[:-1]:
            self.assertEqual(med.nodes[n].stats.repeated, 1)
            self.assertEqual(med.nodes[n].stats.relayed, 1)
        self.assertEqual(med.nodes["D"].stats.delivered, 1)
        self.assertGreater(med.nodes["R3"].stats.not_mine, 0)

    def test_mac_s_discipline_no_answer_no_busy(self):
        med, names, acas, route, req, timeout = self._exchange(4, disc=0)
        med.run(5000)
        self.assertEqual(med.master_rx, [])
        self.assertEqual(med.nodes["D"].stats.delivered, 1)
        self.assertEqual(len(med.log), 5)
        self.assertFalse(med.nodes["R1"].busy.active)

    def test_mac_broadcast_via_repeaters(self):
        # broadcast routed through R1, R2 (6-byte entries): nodes at the last hop get it
        med, names, acas = chain(2)
        med.adj["R2"].add("X")
        med.adj.setdefault("X", set()).add("R2")
        med.nodes["X"] = new_mac(aca(9), rng=Rng(9), app=echo_app)
        req = mk(BCAST, disc=0, route=(acas["R1"], acas["R2"]), lsdu=b"\x12\x01")
        med.send("M", req, 0)
        med.run(3000)
        self.assertEqual(med.nodes["D"].stats.delivered, 1)
        self.assertEqual(med.nodes["X"].stats.delivered, 1)
        # the last repeater does not deliver what it forwards; R1 hears R2's last hop and does
        self.assertEqual(med.nodes["R2"].stats.delivered, 0)
        self.assertEqual(med.nodes["R1"].stats.delivered, 1)

    def test_mac_sca_route_chain(self):
        sec = b"\x56\x34\x12"
        names = ["R1", "R2", "R3", "R4", "D"]
        nodes = {}
        for i, n in enumerate(names):
            sca = sec + bytes((7, i + 1, 3))
            nodes[n] = new_mac(aca(i + 1), rng=Rng(i), app=echo_app, params=Params(sca=sca))
        path = ["M"] + names
        med = Medium(nodes, [(path[i], path[i + 1]) for i in range(5)])
        route = tuple(bytes((7, i + 1)) for i in range(4))
        req = mk(sec + b"\x07\x05\x03", disc=2, route=route)
        med.send("M", req, 0)
        med.run(timing.response_timeout_ms(air, 2, 4, 2, len(req)))
        self.assertEqual(len(med.master_rx), 1)
        f = parse(med.master_rx[0][1])
        self.assertEqual((f.esize, f.nrp, bytes(f.addr_mv())), (2, 4, sec + b"\x07\x05\x03"))

    def test_mac_busy_timer(self):
        med, names, acas = chain(2)
        med.nodes["E"] = new_mac(aca(8), rng=Rng(8), app=echo_app)
        med.adj["R2"].add("E")
        med.adj["E"] = {"R2"}
        r1 = med.nodes["R1"]
        # exchange A to D via R1,R2: RA1
        req_a = mk(acas["D"], disc=2, route=(acas["R1"], acas["R2"]), tag=1)
        med.send("M", req_a, 0)
        med.run(100)  # R1 has received and forwarded: busy
        self.assertTrue(r1.busy.busy(med.now))
        busy_until = r1.busy.until
        # a different exchange to E arrives at R1 while it is busy: ignored
        req_b = mk(aca(8), disc=2, route=(acas["R1"], acas["R2"]), tag=2)
        r1.on_rx(req_b, None, med.now)
        self.assertEqual(r1.stats.busy_drop, 1)
        self.assertEqual(r1.stats.repeated, 1)
        med.run(2000)
        self.assertEqual(len(med.master_rx), 1)  # A completed
        self.assertFalse(r1.busy.busy(med.now))  # released by the relayed answer
        self.assertLess(med.master_rx[0][0], busy_until)
        # now B is accepted
        med.send("M", req_b, med.now)
        med.run(4000)
        self.assertEqual(len(med.master_rx), 2)
        self.assertEqual(parse(med.master_rx[1][1]).buf[1:7], aca(8))

    def test_mac_busy_timer_expires_without_answer(self):
        med, names, acas = chain(2, app=None)  # D never answers
        r1 = med.nodes["R1"]
        req = mk(acas["D"], disc=2, route=(acas["R1"], acas["R2"]), tag=1)
        med.send("M", req, 0)
        med.run(100)
        until = r1.busy.until
        # the busy window is the downstream part of the master's timeout, from R1's forward
        t_fwd = med.log[1][0]
        self.assertEqual(
            until, t_fwd + timing.response_timeout_ms(air, 2, 2, 6, len(req), links=2)
        )
        self.assertTrue(r1.busy.busy(until - 1))
        self.assertFalse(r1.busy.busy(until))

    def test_mac_master_retry_passes_busy_repeaters(self):
        # no answer: the master retries (new tag) after its timeout; repeaters are free again
        med, names, acas = chain(4, app=None)
        route = tuple(acas[n] for n in names[:-1])
        req = mk(acas["D"], disc=8, route=route, tag=1)
        timeout = timing.response_timeout_ms(air, 8, 4, 6, len(req))
        med.send("M", req, 0)
        med.run(timeout)
        med.send("M", mk(acas["D"], disc=8, route=route, tag=2), timeout)
        med.run(2 * timeout)
        for n in names[:-1]:
            self.assertEqual(med.nodes[n].stats.repeated, 2)
            self.assertEqual(med.nodes[n].stats.busy_drop, 0)
        self.assertEqual(med.nodes["D"].stats.delivered, 2)

    def test_mac_rc_busy_stays_for_window(self):
        med, names, acas = chain(1)
        r1 = med.nodes["R1"]
        req = mk(acas["D"], disc=12, route=(acas["R1"],), tag=1)
        med.send("M", req, 0)
        med.run(3000)
        self.assertEqual(len(med.master_rx), 1)
        self.assertTrue(r1.busy.active)  # RC: not released by one answer

    def test_mac_repeater_duplicate_suppression(self):
        med, names, acas = chain(4)
        r2 = med.nodes["R2"]
        fwd = mk(acas["D"], disc=0, route=tuple(acas[n] for n in names[:-1]), hop=1)
        r2.on_rx(fwd, None, 0)
        r2.on_rx(fwd, None, 50)  # heard twice (echo)
        self.assertEqual((r2.stats.repeated, r2.stats.dup), (1, 1))
        out = r2.poll(20)
        self.assertEqual(parse(out).hop, 2)
        r2.on_rx(fwd, None, 500)  # outside the window: a new transmission
        self.assertEqual(r2.stats.repeated, 2)
