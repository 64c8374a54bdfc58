"""unix_sim links: the optical TCP listener closes the sockets of connections that end, the
direct TCP link keeps a bounded receive queue and counts what it drops, and both links give
the MAC a time on air and a frame-end time."""

import asyncio
import os
import unittest

from clock import Clock
from drivers.sim.air import airtime_ms
from phy import profile


def _port():
    return 20000 + int.from_bytes(os.urandom(2), "big") % 20000


def _open_fds():
    return len(list(os.ilistdir("/proc/self/fd")))


class TestSimLinks(unittest.TestCase):
    def test_tcp_serial_closes_ended_connections(self):
        from drivers.sim.tcp_serial import TcpSerial

        port = _port()
        counts = []

        async def main():
            s = TcpSerial(port)
            await s.start()
            for i in range(300):
                r, w = await asyncio.open_connection("127.0.0.1", port)
                if i % 3 == 0:  # a second probe while the first is on: refused and closed
                    r2, w2 = await asyncio.open_connection("127.0.0.1", port)
                    await w2.wait_closed()
                w.write(b"x")
                await w.drain()
                self.assertEqual(await s.read(1), b"x")
                await w.wait_closed()  # the probe leaves; the meter's next read sees EOF
                reader = asyncio.create_task(s.read(1))
                for _ in range(1000):
                    await asyncio.sleep_ms(0)
                    if s._writer is None:
                        break
                self.assertIsNone(s._writer)
                if i in (10, 299):
                    counts.append(_open_fds())
                reader.cancel()
                await asyncio.sleep_ms(0)

        asyncio.run(main())
        self.assertEqual(counts[1], counts[0])

    def test_tcp_link_queue_is_bounded(self):
        from drivers.sim.tcp_link import RXQ_MAX, TcpLinkPhy

        port = _port()
        out = {}

        async def main():
            phy = TcpLinkPhy(port, Clock())
            await phy.start()
            r, w = await asyncio.open_connection("127.0.0.1", port)
            for i in range(RXQ_MAX + 5):
                w.write(bytes((0, 3, i, 2, 3)))
            await w.drain()
            while phy.frames_rx + phy.dropped < RXQ_MAX + 5:
                await asyncio.sleep_ms(1)
            frame, info = await phy.recv()
            out["first"] = frame
            out["t"] = (info.t_end_ms, info.t_ms)
            out["counts"] = (phy.frames_rx, phy.dropped)
            await w.wait_closed()

        asyncio.run(main())
        self.assertEqual(out["first"], bytes((0, 2, 3)))
        self.assertEqual(out["counts"], (RXQ_MAX, 5))
        self.assertEqual(out["t"][0], out["t"][1])

    def test_links_airtime_is_the_profile(self):
        from drivers.sim.medium_link import MediumPhy
        from drivers.sim.tcp_link import TcpLinkPhy

        tcp = TcpLinkPhy(1, Clock())
        med = MediumPhy("127.0.0.1", 1, {"aca": "010203040506"})
        for n in (1, 12, 139, 255):
            want = (profile.airtime_us(n) + 999) // 1000
            self.assertEqual((tcp.airtime_ms(n), med.airtime_ms(n), airtime_ms(n)), (want,) * 3)
