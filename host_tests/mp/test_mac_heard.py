"""mac.heard: the table of overheard transmitters (docs/datalink.md §6.1, register 0x0205)."""

import gc
import unittest

from mac import heard
from mac_util import BCAST, Info, aca, mk, new_mac

ME = aca(1)
A, B, C = aca(2), aca(3), aca(4)
MASTER = bytes(6)


def table(mac):
    out = mac.heard.into(bytearray(heard.ENTRIES * heard.ENTRY))
    rows = []
    for i in range(heard.ENTRIES):
        e = out[i * heard.ENTRY : (i + 1) * heard.ENTRY]
        if e[6]:
            rows.append((bytes(e[:6]), e[6], e[7]))
    return rows


class TestHeard(unittest.TestCase):
    def setUp(self):
        self.mac = new_mac(ME)

    def rx(self, frame, rssi, snr=40):
        self.mac.on_rx(frame, Info(rssi=rssi, snr=snr), 0)

    def test_transmitter_of_each_copy(self):
        # downlink hop 0: the master; hop 1 of a route: that repeater; an uplink answer at
        # hop n + 1: its responder; an uplink relayed at hop 1: the route entry
        self.rx(mk(aca(9)), 80)
        self.rx(mk(aca(9), route=(A,), hop=1), 70)
        self.rx(mk(B, up=1, hop=1, poll=0), 60)
        self.rx(mk(aca(9), route=(C,), up=1, hop=1, poll=0), 50)
        self.assertEqual(
            table(self.mac), [(MASTER, 80, 40), (A, 70, 40), (B, 60, 40), (C, 50, 40)]
        )

    def test_relayed_broadcast_names_the_relay(self):
        self.rx(mk(BCAST, disc=0, route=(A,), hop=1, poll=0, lsdu=b"\x65\x01"), 66, 24)
        self.assertEqual(table(self.mac), [(A, 66, 24)])

    def test_average_weight_quarter(self):
        self.rx(mk(A, up=1, hop=1, poll=0), 80, 40)
        self.rx(mk(A, up=1, hop=1, poll=0), 40, 0)
        self.assertEqual(table(self.mac), [(A, 70, 30)])

    def test_keeps_the_strongest_when_full(self):
        for i in range(heard.ENTRIES):
            self.rx(mk(aca(20 + i), up=1, hop=1, poll=0), 60 + i)
        self.rx(mk(aca(40), up=1, hop=1, poll=0), 59)  # weaker than all: not kept
        rows = table(self.mac)
        self.assertEqual(len(rows), heard.ENTRIES)
        self.assertNotIn(aca(40), [r[0] for r in rows])
        self.rx(mk(aca(41), up=1, hop=1, poll=0), 100)  # replaces the weakest (60)
        rows = table(self.mac)
        self.assertEqual(rows[0][0], aca(41))
        self.assertNotIn(aca(20), [r[0] for r in rows])
        self.assertEqual(rows[-1][1], 61)

    def test_nodes_above_us_are_kept_first(self):
        self.rx(mk(ME, route=(A, B), hop=2), 50)  # to us through two repeaters: we are level 3
        self.assertEqual(self.mac.heard.level, 3)
        self.rx(mk(aca(9), route=(A,), hop=1), 45)  # A repeating at hop 1: level 1
        for i in range(heard.ENTRIES):  # strong neighbours answering at our level
            self.rx(mk(aca(20 + i), route=(A, B), up=1, hop=3, poll=0), 90)
        rows = [r[0] for r in table(self.mac)]
        self.assertIn(A, rows)  # level 1 and 2, weaker, still there
        self.assertIn(B, rows)
        self.rx(mk(aca(41), route=(aca(40),), up=1, hop=1, poll=0), 40)  # a weak level-1 node
        rows = [r[0] for r in table(self.mac)]
        self.assertIn(aca(40), rows)
        self.assertEqual(len(rows), heard.ENTRIES)

    def test_local_master_round_is_not_the_master(self):
        # ADDRESS.REQ (DSAP 2) at hop 0 may come from a meter running a REQADDR round
        self.rx(mk(BCAST, disc=4, dsap=2, lsdu=bytes((90, 2, 255, 0, 0))), 80)
        self.assertEqual(table(self.mac), [])

    def test_unknown_snr_and_no_info(self):
        self.mac.on_rx(mk(A, up=1, hop=1, poll=0), Info(rssi=70), 0)
        self.mac.on_rx(mk(B, up=1, hop=1, poll=0), None, 0)  # no PHY info: nothing learnt
        self.assertEqual(table(self.mac), [(A, 70, 255)])

    def test_clamped_and_bad_hop_ignored(self):
        self.rx(mk(A, up=1, hop=1, poll=0), 400, -5)
        self.rx(mk(B, up=1, hop=5, poll=0), 70)  # hop outside the path: rejected by the MAC
        self.assertEqual(table(self.mac), [(A, 254, 0)])

    def test_noting_allocates_nothing(self):
        f = mk(aca(9), route=(A,), hop=1)
        info = Info(rssi=70, snr=30)
        h = self.mac.heard
        fr = self.mac._rx
        self.assertEqual(fr.parse(f), 0)
        h.note(fr, info)
        gc.collect()
        before = gc.mem_alloc()
        for _ in range(20):
            h.note(fr, info)
        self.assertEqual(gc.mem_alloc() - before, 0)


if __name__ == "__main__":
    unittest.main()
