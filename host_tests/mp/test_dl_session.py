"""dl.transfer's erase in the download task and dl.feature's broadcast start / activate
(docs/download.md §3, §5.3, §5.5, §7), on a NOR flash in RAM with power cuts.

The broadcast LSDUs below were computed by tools/dl_pack.py (CPython `cryptography`, no
firmware code) under the demo download key 20 21 ... 2F for an image of id 12 E7 1A 05, 195
bytes, BS 32 (the example of docs/download.md §2.4, §5.5): the meter's tag check is held to an
independent encoder."""

import unittest

from clock import ManualClock
from dl import feature, transfer
from test_store import PowerCut, RamFlash

KEY = bytes(range(0x20, 0x30))
IID = bytes.fromhex("12E71A05")
START_V3 = bytes.fromhex("6503 12e71a05 000000c3 20 00000003 2b4e630396bc19a7")
START_V2 = bytes.fromhex("6503 12e71a05 000000c3 20 00000002 49f86db3261e6b58")
START_V4 = bytes.fromhex("6503 12e71a05 000000c3 20 00000004 eaac434f14519bc7")
START_OTHER_V3 = bytes.fromhex("6503 aabbccdd 000000c3 20 00000003 3330cecab2d9974d")
ACT_NOW = bytes.fromhex("6504 12e71a05 00000000 05891852949166e0")
ACT_AT = bytes.fromhex("6504 12e71a05 3127a9c0 82bad8c2067fd35e")
ACT_IN_30 = bytes.fromhex("6504 12e71a05 0000001e c7066411cb515118")
FACTORY = 2  # datamodel.live.FIRMWARE of the source tree
UNIT = 1024  # erase unit of the fake slots
UNITS = 16  # 16 KiB slots: 12 KiB for data, the bitmap in the last 4 KiB (units 12-15)


class Nor(RamFlash):
    """test_store's RAM flash (a power cut after `budget` erase chunks or programmed bytes; a
    torn erase leaves its unit half old) with NOR programming (bits only clear, a word may be
    programmed again: the bitmap's marks) and slots that hold an old image's bytes."""

    def __init__(self):
        super().__init__(UNIT, UNITS, 4)
        self.mem[:] = b"\x5a" * (UNIT * UNITS)
        self.erased = []  # units in erase order

    def writeblocks(self, block, buf, offset):
        assert offset + len(buf) <= UNIT
        p = block * UNIT + offset
        for i in range(len(buf)):
            self._spend()
            self.mem[p + i] &= buf[i]

    def ioctl(self, op, arg):
        r = RamFlash.ioctl(self, op, arg)
        if op == 6:
            self.erased.append(arg)
        return r


class DictStore:
    """The store's get/put (its own power-cut safety is test_store's)."""

    def __init__(self):
        self.d = {}

    def get(self, k):
        return self.d.get(k)

    def put(self, k, v):
        self.d[k] = bytes(v)


class _Hw:
    name = "nucleo_f429zi"


class _Model:
    def __init__(self):
        self.events = []

    def log(self, code, data):
        self.events.append((code, data))


class _Faults:
    def __init__(self):
        self.got = []

    def record(self, e, place):
        self.got.append((type(e).__name__, place))


class _Wall:
    t = 0x3127A000

    def now(self):
        return self.t


class _Supervisor:
    def __init__(self):
        self.resets = []

    def request_reset(self, why):
        self.resets.append(why)


class FakeMeter:
    """What dl.feature.Download uses of app.Meter; the store and slots survive a 'reboot'."""

    def __init__(self, store=None, devs=None):
        self.store = store or DictStore()
        self.devs = devs or [None, Nor(), Nor()]
        self.hw = _Hw()
        self.cfg = {"key_download": "202122232425262728292a2b2c2d2e2f"}
        self.model = _Model()
        self.clock = ManualClock(1000)
        self.wallclock = _Wall()
        self.faults = _Faults()
        self.supervisor = _Supervisor()
        self.dl = feature.Download(self, self.devs)

    def reboot(self):
        return FakeMeter(self.store, self.devs)

    def bcast(self, lsdu):
        """A REPROG_BROADCAST LSDU as smitp.al hands it over -> the (never sent) code."""
        assert lsdu[0] == feature.REPROG_BROADCAST
        out = bytearray(128)
        code, n = self.dl.reprog(memoryview(lsdu)[1:], False, out, 100)
        assert n == 0
        return code


def block(n, bs=32, size=195):
    """Block n's data (its bytes do not matter to the transfer; BTAGs come from the cmac)."""
    ln = bs if (n + 1) * bs <= size else size - n * bs
    return bytes((n * 7 + i) & 0xFF for i in range(ln))


def send_block(t, n, bs=32, size=195):
    data = block(n, bs, size)
    h = bytes(IID) + bytes((n >> 8, n & 0xFF, len(data)))
    return t.block(IID, n, data, t._cmac(h + data)[:4])


def erase_all(d):
    while d.transfer.state == transfer.ERASING:
        d.erase_step()


class TestEraseInTheTask(unittest.TestCase):
    def test_start_answers_at_once_and_the_task_erases_unit_by_unit(self):
        m = FakeMeter()
        d, t, slot = m.dl, m.dl.transfer, m.devs[1]
        self.assertEqual(d.cmd_start(IID + bytes((0, 0, 0, 195, 32))), 0)
        self.assertEqual(t.state, transfer.ERASING)
        self.assertEqual(slot.erased, [])  # nothing erased inside the command
        self.assertEqual(send_block(t, 0), transfer.E_ERASING)  # unit 0 not erased yet
        self.assertEqual(t.erase_step(), 1)  # the bitmap's unit first
        self.assertEqual(slot.erased, [12])
        self.assertEqual(send_block(t, 0), transfer.E_ERASING)
        self.assertEqual(t.erase_step(), 0)  # a 195-byte image: data unit 0, then done
        self.assertEqual(slot.erased, [12, 0])
        self.assertEqual(t.state, transfer.RECEIVING)
        self.assertEqual(send_block(t, 0), 0)
        self.assertEqual(t.early, 2)
        self.assertEqual(m.store.get(0x0902)[8:11], bytes((32, 1, transfer.RECEIVING)))

    def test_blocks_in_erased_units_are_taken_while_the_erase_goes_on(self):
        m = FakeMeter()
        t, slot = m.dl.transfer, m.devs[1]
        size = 5 * UNIT + 100  # 6 data units
        self.assertEqual(t.start(IID, size, 112, 0), 0)
        n_in_unit2 = (2 * UNIT) // 112 + 1  # wholly inside unit 2
        straddle = UNIT // 112  # bytes 1008..1119: units 0 and 1
        for _ in range(3):  # bitmap, 0, 1
            t.erase_step()
        self.assertEqual(send_block(t, straddle, 112, size), 0)
        self.assertEqual(send_block(t, n_in_unit2, 112, size), transfer.E_ERASING)
        self.assertFalse(t.has(n_in_unit2))
        while t.erase_step():
            pass
        self.assertEqual(slot.erased, [12, 0, 1, 2, 3, 4, 5])  # units past the image: kept
        self.assertEqual(slot.mem[6 * UNIT], 0x5A)
        self.assertEqual(t.state, transfer.RECEIVING)
        self.assertEqual(send_block(t, n_in_unit2, 112, size), 0)
        self.assertEqual(t.received, 2)
        self.assertEqual(t._count(), 2)

    def test_the_task_erases_and_yields_between_units(self):
        import asyncio

        m = FakeMeter()
        d = m.dl
        # the board flash asks the task to wait on the loop while its erase runs on
        m.devs[1].erase_ms = 700
        d.cmd_start(IID + bytes((0, 0, 0x30, 0, 32)))  # 12 KiB: units 0-11 and the bitmap's
        yields = []

        async def other():  # another task of the loop: runs between erase units
            while m.dl.transfer.state == transfer.ERASING:
                yields.append(len(m.devs[1].erased))
                m.clock.advance(700)
                await asyncio.sleep_ms(0)

        async def main():
            task = asyncio.create_task(d.run())
            await other()
            task.cancel()

        asyncio.run(main())
        self.assertEqual(d.transfer.state, transfer.RECEIVING)
        self.assertEqual(len(m.devs[1].erased), 13)
        self.assertEqual(yields[:3], [0, 1, 2])  # one unit per turn of the loop

    def test_a_record_of_before_version_reads_as_a_sealed_session(self):
        import struct

        m = FakeMeter()
        m.dl.cmd_start(IID + bytes((0, 0, 0, 195, 32)))
        erase_all(m.dl)
        old = struct.pack(">4sIBBBBI", IID, 195, 32, 1, transfer.RECEIVING, 0, 0)  # 16 bytes
        m.store.put(0x0902, old)
        r = m.reboot()
        t = r.dl.transfer
        self.assertEqual((t.image_id, t.size, t.state, t.version), (IID, 195, 1, 0))
        self.assertEqual(r.bcast(START_OTHER_V3), 26)  # sealed: no broadcast start over it

    def test_a_flash_error_during_the_erase_is_recorded_and_ends_the_session(self):
        m = FakeMeter()

        def broken(op, arg):
            if op == 6:
                raise OSError(5)
            return Nor.ioctl(m.devs[1], op, arg)

        m.devs[1].ioctl = broken
        m.dl.cmd_start(IID + bytes((0, 0, 0, 195, 32)))
        m.dl.erase_step()
        self.assertEqual(m.dl.transfer.state, transfer.IDLE)
        self.assertEqual(m.faults.got, [("OSError", "dl.erase")])


class TestPowerCutDuringTheErase(unittest.TestCase):
    def test_every_cut_leaves_a_consistent_session(self):
        """Cut power at every erase chunk and byte programmed of: start, erase, and blocks
        arriving during and after the erase. After the restart the session is ERASING (the task
        erases again, from the bitmap's unit) or RECEIVING; every block the bitmap marks holds
        its data; the download then completes."""
        size = 3 * UNIT + 40
        bs = 112
        nb = (size + bs - 1) // bs
        order = [0, 20, 5, 27, 9]  # blocks heard along the erase, one after each erase step

        def run(m):
            t = m.dl.transfer
            t.start(IID, size, bs, 0)
            i = 0
            while t.state == transfer.ERASING:
                m.dl.erase_step()
                send_block(t, order[i % len(order)], bs, size)
                i += 1
            for n in range(nb // 2):
                send_block(t, n, bs, size)

        ref = FakeMeter()
        ref.devs[1].budget = -1
        run(ref)
        spent = 0
        for cut in range(0, 100000, 37):
            m = FakeMeter()
            m.devs[1].budget = cut
            try:
                run(m)
                done = True
            except PowerCut:
                done = False
            m.devs[1].budget = -1
            r = m.reboot()
            t = r.dl.transfer
            self.assertIn(t.state, (transfer.ERASING, transfer.RECEIVING, transfer.IDLE))
            if t.state == transfer.ERASING:
                self.assertEqual(t.received, 0)
                erase_all(r.dl)
                self.assertEqual(r.devs[1].erased[-5], 12)  # again from the bitmap's unit
            if t.state == transfer.RECEIVING:
                for n in range(nb):
                    if t.has(n):
                        got = bytearray(len(block(n, bs, size)))
                        t.slots.reader(1)(n * bs, got)
                        self.assertEqual(bytes(got), block(n, bs, size), "cut %d" % cut)
                for n in range(nb):
                    self.assertEqual(send_block(t, n, bs, size), 0)
                self.assertEqual(t.received, nb)
                self.assertTrue(t.complete())
            spent += 1
            if done:
                break
        self.assertTrue(done)
        self.assertGreater(spent, 10)


class TestBroadcastStart(unittest.TestCase):
    def test_accepted_erases_once_and_a_repeat_is_a_no_op(self):
        m = FakeMeter()
        d = m.dl
        self.assertEqual(m.bcast(START_V3), 0)
        t = d.transfer
        self.assertEqual((t.state, t.image_id, t.size, t.bs, t.version), (5, IID, 195, 32, 3))
        erase_all(d)
        self.assertEqual(send_block(t, 1), 0)
        erased = list(m.devs[1].erased)
        self.assertEqual(m.bcast(START_V3), 0)  # the second copy: nothing happens
        self.assertEqual(m.devs[1].erased, erased)
        self.assertEqual((t.state, t.received), (transfer.RECEIVING, 1))
        self.assertEqual(d.bcast, {"taken": 1, "repeat": 1, "refused": 0, "bad_tag": 0})
        self.assertEqual([e for e in m.model.events if e[0] == 0x70], [(0x70, 7)])
        r = m.reboot()  # the session and its VERSION survive a restart
        self.assertEqual((r.dl.transfer.version, r.dl.transfer.received), (3, 1))
        self.assertEqual(r.bcast(START_V3), 0)
        self.assertEqual(r.dl.bcast["repeat"], 1)

    def test_forged_tags_are_dropped_and_counted(self):
        m = FakeMeter()
        for i in (2, 9, 14, len(START_V3) - 1):  # id, size, version, tag
            bad = bytearray(START_V3)
            bad[i] ^= 0x01
            self.assertEqual(m.bcast(bytes(bad)), transfer.E_TAG)
        self.assertEqual(m.bcast(START_V3[:-1]), 3)  # a byte short: malformed
        self.assertEqual(m.dl.bcast["bad_tag"], 4)
        self.assertEqual(m.dl.transfer.state, transfer.IDLE)
        self.assertEqual(m.store.get(0x0902), None)

    def test_never_a_downgrade_nor_the_running_version(self):
        m = FakeMeter()
        self.assertEqual(m.bcast(START_V2), 23)  # = the running version (factory 2)
        self.assertEqual(m.dl.transfer.state, transfer.IDLE)
        self.assertEqual(m.dl.bcast["refused"], 1)

    def test_never_over_a_session_of_an_equal_or_higher_version_or_a_sealed_one(self):
        m = FakeMeter()
        self.assertEqual(m.bcast(START_V4), 0)
        self.assertEqual(m.bcast(START_OTHER_V3), 26)  # a replayed older start
        self.assertEqual(m.dl.transfer.version, 4)
        m = FakeMeter()
        self.assertEqual(m.bcast(START_OTHER_V3), 0)
        self.assertEqual(m.bcast(START_V4), 0)  # a newer release supersedes it
        self.assertEqual((m.dl.transfer.image_id, m.dl.transfer.version), (IID, 4))
        m = FakeMeter()
        m.dl.cmd_start(bytes.fromhex("aabbccdd") + bytes((0, 0, 0, 195, 32)))  # sealed
        self.assertEqual(m.bcast(START_V4), 26)
        self.assertEqual(m.dl.transfer.image_id, bytes.fromhex("aabbccdd"))
        m.dl.cmd_abort(b"")
        self.assertEqual(m.bcast(START_V4), 0)  # nothing open any more

    def test_the_manifest_must_carry_the_announced_version(self):
        m = FakeMeter()
        m.bcast(START_V4)
        t = m.dl.transfer

        class _M:
            version = 3

            def image_id(self):
                return IID

        t.slots.verify = lambda slot, v, size: (0, _M())  # a valid image of release 3
        self.assertEqual(t.check(FACTORY), 21)
        self.assertEqual((t.state, t.code), (transfer.REFUSED, 21))
        _M.version = 4
        t.set_state(transfer.RECEIVING)
        self.assertEqual(t.check(FACTORY), 0)

    def test_a_trial_leaves_no_slot(self):
        m = FakeMeter()
        m.dl.slots._put(1, 2, 1, 1, 0)  # slot 1 on trial, 2 to roll back to
        self.assertEqual(m.bcast(START_V3), 26)


class TestBroadcastActivate(unittest.TestCase):
    def ready(self):
        m = FakeMeter()
        m.bcast(START_V3)
        m.dl.transfer.set_state(transfer.READY)  # as after a verified download
        return m

    def test_acts_only_on_a_ready_session_with_that_id(self):
        m = FakeMeter()
        self.assertEqual(m.bcast(ACT_NOW), 25)  # nothing open
        m.bcast(START_V3)
        self.assertEqual(m.bcast(ACT_NOW), 26)  # erasing, not ready
        self.assertEqual(m.dl.transfer.act_time, 0)
        m = self.ready()
        bad = bytearray(ACT_NOW)
        bad[3] ^= 0x80
        self.assertEqual(m.bcast(bytes(bad)), transfer.E_TAG)
        self.assertEqual(m.dl.transfer.act_time, 0)

    def test_at_once_then_replays_do_nothing(self):
        m = self.ready()
        d = m.dl
        self.assertEqual(m.bcast(ACT_NOW), 0)
        self.assertEqual(d.transfer.act_time, 1)
        grace = d._grace_until
        m.clock.advance(1500)
        self.assertEqual(m.bcast(ACT_NOW), 0)  # the second copy does not move the grace
        self.assertEqual(d._grace_until, grace)
        self.assertEqual(d.step(100), 1)  # ACT_GRACE_S not over yet
        m.clock.advance(600)
        self.assertEqual(d.step(100), None)
        self.assertEqual(d.transfer.state, transfer.ACTIVATED)
        self.assertEqual(m.supervisor.resets, ["software download activated"])
        self.assertEqual(m.bcast(ACT_NOW), 26)  # replayed after the activation: nothing
        self.assertEqual(m.bcast(START_V3), 0)  # and the start: a repeat (no erase)
        self.assertEqual(d.bcast, {"taken": 2, "repeat": 2, "refused": 1, "bad_tag": 0})

    def test_at_a_time(self):
        m = self.ready()
        self.assertEqual(m.bcast(ACT_AT), 0)
        self.assertEqual(m.dl.transfer.act_time, 0x3127A9C0)
        self.assertEqual(m.dl.step(0x3127A9C0 - 10), 10)
        self.assertEqual(m.dl.step(0x3127A9C0), None)
        self.assertEqual(m.supervisor.resets, ["software download activated"])

    def test_in_seconds_after_the_copy_and_a_set_time_is_kept(self):
        m = self.ready()
        d = m.dl
        self.assertEqual(m.bcast(ACT_IN_30), 0)
        self.assertEqual(d.transfer.act_time, 1)  # due, after 30 s of the meter's clock
        self.assertEqual(d._grace_until, m.clock.now_ms() + 30000)
        self.assertEqual(m.bcast(ACT_AT), 0)  # another copy (another countdown): a repeat
        self.assertEqual(d._grace_until, m.clock.now_ms() + 30000)
        self.assertEqual(d.bcast["repeat"], 1)
        m.clock.advance(29001)
        self.assertEqual(d.step(m.wallclock.t), 1)
        m.clock.advance(999)
        self.assertEqual(d.step(m.wallclock.t), None)
        self.assertEqual(m.supervisor.resets, ["software download activated"])
        m = self.ready()
        m.dl.cmd_activate(bytes.fromhex("3127a9c0"))  # the sealed COMMAND set a time
        self.assertEqual(m.bcast(ACT_NOW), 0)
        self.assertEqual(m.dl.transfer.act_time, 0x3127A9C0)

    def test_not_under_reprog_local(self):
        m = self.ready()
        out = bytearray(64)
        self.assertEqual(m.dl.reprog(memoryview(ACT_NOW)[1:], True, out, 60), (4, 0))
        self.assertEqual(m.dl.transfer.act_time, 0)
