"""Fuzz: 10,000 random and mutated frames into Mac.on_rx (seeded, deterministic).

Nothing may raise, and an input the parser rejects may change nothing but the rejection
counters (TCT, duplicate ring, busy timer, pending tx, every other counter are compared)."""

import unittest

from mac_util import BCAST, DictStore, Info, Params, Rng, aca, echo_app, mk, new_mac

ME = aca(1)
SCA = bytes.fromhex("563412070903")
N = 10000


def bases():
    o = aca(2)
    return [
        mk(ME),
        mk(ME, disc=12, lsdu=b"\x02\x00\x3f"),
        mk(BCAST, disc=13, dsap=2, lsdu=b"\x5a\x02\x55\x00\x00"),
        mk(ME, dsap=2, lsdu=b"\x5c\x05"),
        mk(ME, disc=4, dsap=2, lsdu=b"\x5e\x02\x55\x00\x00"),
        mk(o, disc=3, route=(ME, aca(3)), hop=0),
        mk(o, disc=3, route=(aca(3), ME), up=1, hop=3, poll=0),
        mk(SCA, disc=2, route=(b"\x07\x01", b"\x07\x02"), hop=2),
        mk(o, disc=5, route=(aca(3),) * 8, tag=7, hop=4, lsdu=bytes(range(100))),
        mk(ME, disc=8, lsdu=b"\x02" + bytes(127)),
        mk(o, up=1, hop=1, dsap=2, lsdu=b"\x5b" + o + b"\x10\x20\x00\xff\xff\xff"),
    ]


class TestMacFuzz(unittest.TestCase):
    def test_mac_fuzz_on_rx(self):
        rng = Rng(20240601)

        def r(n):
            return rng(16) % n

        m = new_mac(ME, store=DictStore(), rng=Rng(5), app=echo_app, params=Params(sca=SCA))
        base = bases()
        info = Info(rssi=70, snr=32, in_phase=True)
        now = 0
        snap = m.snapshot()
        rejected = accepted = 0
        kinds = [0] * 6
        for i in range(N):
            k = r(6)
            kinds[k] += 1
            b = bytearray(base[r(len(base))])
            if k == 0:  # random bytes of random length
                b = bytearray(rng(8) for _ in range(r(200)))
            elif k == 1:  # bit flips
                for _ in range(1 + r(4)):
                    j = r(len(b))
                    b[j] ^= 1 << r(8)
            elif k == 2:  # truncation
                b = b[: r(len(b))]
            elif k == 3:  # length lie
                b[0] = rng(8)
                if b[0] == len(b) - 1:
                    b[0] ^= 0x40
            elif k == 4:  # extension / garbage tail, LT adjusted or not
                b += bytearray(rng(8) for _ in range(1 + r(80)))
                if r(2):
                    b[0] = (len(b) - 1) & 0xFF
            else:  # field mutation: CTL, Reserved, INF bytes or an address byte set at random
                j = (1 + r(6), 7, len(b) - 4, len(b) - 3, len(b) - 2)[r(5)]
                if 0 <= j < len(b):
                    b[j] = rng(8)
            ok_before = m.stats.rx_ok
            m.on_rx(bytes(b), info if r(2) else None, now)
            new = m.snapshot()
            if m.stats.rx_ok == ok_before:
                rejected += 1
                if new != snap:
                    self.fail("rejected input changed state: %s" % bytes(b).hex())
            else:
                accepted += 1
            snap = new
            now += 1 + r(30)
            if i % 40 == 0:
                now += 2000
                m.poll(now)
                m.tx_done(now)
                snap = m.snapshot()
        self.assertEqual(m.stats.internal, 0)
        self.assertEqual(m.stats.rx, N)
        self.assertEqual(sum(m.stats.rx_rejected.values()), rejected)
        self.assertGreater(rejected, N // 2)
        self.assertGreater(accepted, 100)
        for name, count in m.stats.rx_rejected.items():
            self.assertGreater(count, 0, name)  # every reason was exercised
        print("   fuzz: %d rejected, %d accepted, kinds %r" % (rejected, accepted, kinds))
        print("   reasons %r" % (m.stats.rx_rejected,))

    def test_mac_fuzz_foreign_valid_frames_change_nothing(self):
        # valid frames that are not for this node (and not hop 0 downlink): no state change
        rng = Rng(77)
        m = new_mac(ME, rng=Rng(5), app=echo_app)
        snap = m.snapshot()
        for i in range(500):
            other = aca(2 + rng(3))
            route = tuple(aca(5 + rng(3)) for _ in range(1 + rng(2)))
            f = mk(
                other,
                disc=rng(4),
                route=route,
                up=rng(1),
                tag=rng(3),
                hop=1,
                lsdu=bytes(rng(8) for _ in range(1 + rng(6))),
            )
            m.on_rx(f, None, i)
        self.assertEqual(m.stats.rx_ok, 500)
        self.assertEqual(m.stats.not_mine, 500)
        s = m.snapshot()
        self.assertEqual(s[:5], snap[:5])
