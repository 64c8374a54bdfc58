"""STM32 register-level contracts, on the fake `stm.mem32` that records every access.

1. ADC1 + DMA2 stream 0 + TIM2 capture set-up (drivers/stm32_adc_dma.py) and 2. DAC1 + DMA1
   stream 5 + TIM6/TIM7 transmit set-up (drivers/stm32_dac_tx.py, DMA mode) against the
   sequences RM0090 rev 19 prescribes, listed rule by rule in docs/boards.md ("Register
   set-up sequences"); stalled streams, timers and ADCs end in ETIMEDOUT, never a hang.
3. Store flash on bank 2 (drivers/stm32_flash.py) on the flash-controller model
   (fakes/fakehw.F4Flash): unlock/PSIZE/SNB/lock sequences, errors, timeouts, data-cache reset,
   and the store surviving a power cut at every flash operation of an append and of the first
   format, at a seeded sample (plus both sides of the seal and of the erase) of a compaction,
   and through a seeded kill run of 24 cuts.
"""

import random
import unittest

import uctypes
from contract_env import use_port
from fakes import fakehw
from fakes.fakehw import BUS

RCC = 0x40023800
ADC1 = 0x40012000
ADC_COMMON = 0x40012300
DMA1 = 0x40026000
DMA2 = 0x40026400
DAC = 0x40007400
TIM2 = 0x40000000
TIM6 = 0x40001000
FLASH = 0x40023C00


def first(log, pred):
    for i, e in enumerate(log):
        if pred(e[0], e[1]):
            return i
    return -1


def last(log, pred):
    for i in range(len(log) - 1, -1, -1):
        if pred(log[i][0], log[i][1]):
            return i
    return -1


def wr(addr):
    return lambda a, v: a == addr and v is not None


def rd(addr):
    return lambda a, v: a == addr and v is None


def in_range(lo, hi):
    return lambda a, v: isinstance(a, int) and lo <= a < hi and v is not None


def value(log, i):
    return log[i][1]


class _Stm32(unittest.TestCase):
    def setUp(self):
        use_port("stm32")
        self.state = fakehw.board_stm32()

    def tearDown(self):
        use_port(None)

    def check_clocks_first(self, log, enables, peripherals):
        """Every (RCC register, bit) is set before any write to the peripheral ranges."""
        done = 0
        for reg, bit in enables:
            i = last(log, wr(RCC + reg))
            self.assertTrue(value(log, i) & (1 << bit), "RCC+0x%x bit %d" % (reg, bit))
            done = max(done, i)
        for base in peripherals:
            self.assertLess(done, first(log, in_range(base, base + 0x400)))

    def check_stream(self, log, dma, stream, flags, par, ring, ndtr, chsel, direction):
        """RM0090 10.3.17 on DMA `dma` stream `stream`; returns the index of the EN write."""
        cr = dma + 0x10 + 0x18 * stream
        regs = (cr + 8, cr + 12, cr + 4, cr + 0x14)  # PAR, M0AR, NDTR, FCR
        ifcr = dma + (0x08 if stream < 4 else 0x0C)
        off = first(log, wr(cr))
        self.assertEqual(value(log, off), 0)  # EN = 0 first ...
        readback = first(log, rd(cr))
        self.assertGreater(readback, off)  # ... and read back until it reads 0
        clear = first(log, wr(ifcr))
        self.assertEqual(value(log, clear) & flags, flags)
        en = first(log, lambda a, v: a == cr and v is not None and v & 1)
        self.assertGreater(en, clear)
        for r in regs:
            self.assertGreater(first(log, wr(r)), readback)
            self.assertLess(last(log, wr(r)), en)
        ring = uctypes.addressof(ring) & 0xFFFFFFFF  # a 32-bit register on a 64-bit host
        got = [value(log, last(log, wr(r))) for r in regs]
        self.assertEqual(got, [par, ring, ndtr, 0])  # FCR = 0: direct mode
        v = value(log, en)
        self.assertEqual((v >> 25) & 7, chsel)
        self.assertEqual((v >> 6) & 3, direction)
        self.assertTrue(v & (1 << 8) and v & (1 << 10))  # CIRC, MINC
        self.assertEqual(((v >> 11) & 3, (v >> 13) & 3), (1, 1))  # 16-bit both sides
        return en

    def check_trgo_after_timer(self, log, timer_id, base, after):
        t = first(log, lambda a, v: isinstance(a, tuple) and a[:2] == ("pyb.Timer", timer_id))
        self.assertGreater(t, after)
        mms = last(log, wr(base + 0x04))
        self.assertGreater(mms, t)
        self.assertEqual((value(log, mms) >> 4) & 7, 0b010)  # MMS: update event -> TRGO
        return t


class TestAdcDmaSequence(_Stm32):
    def test_contracts_adc_dma_setup_follows_rm0090(self):
        from drivers.stm32_adc_dma import AdcDmaCapture

        cap = AdcDmaCapture("PA3", 1, 3, 2, block=512)
        del BUS.log[:]
        cap.start()
        log = BUS.log
        self.check_clocks_first(log, ((0x44, 8), (0x30, 22)), (ADC1, DMA2))
        ccr = last(log, wr(ADC_COMMON + 0x04))
        self.assertEqual((value(log, ccr) >> 16) & 3, 1)  # /4
        cr2_off = first(log, wr(ADC1 + 0x08))
        self.assertEqual(value(log, cr2_off), 0)
        for reg in (0x04, 0x10, 0x2C, 0x34):
            self.assertGreater(first(log, wr(ADC1 + reg)), cr2_off)
        self.assertEqual(value(log, last(log, wr(ADC1 + 0x2C))), 0)
        self.assertEqual(value(log, last(log, wr(ADC1 + 0x34))), 3)
        self.assertEqual((value(log, last(log, wr(ADC1 + 0x10))) >> 9) & 7, 0b001)
        ndtr = cap.nblocks * cap.block  # the whole ring, read by position
        en = self.check_stream(log, DMA2, 0, 0x3D, ADC1 + 0x4C, cap._ring, ndtr, 0, 0)
        # ADC trigger after the stream runs, timer last
        trig = first(log, lambda a, v: a == ADC1 + 0x08 and v is not None and v & (3 << 28))
        self.assertGreater(trig, en)
        cr2 = value(log, trig)
        self.assertEqual((cr2 >> 28) & 3, 1)  # rising edge
        self.assertEqual((cr2 >> 24) & 15, 0b0110)  # TIM2 TRGO
        self.assertTrue(cr2 & (1 << 8) and cr2 & (1 << 9) and cr2 & 1)  # DMA, DDS, ADON
        self.check_trgo_after_timer(log, 2, TIM2, trig)
        self.assertEqual(self.state.timers[2].freq_hz, 38400)

    def test_contracts_adc_dma_stream_that_never_stops_times_out(self):
        from drivers.stm32_adc_dma import AdcDmaCapture

        cap = AdcDmaCapture("PA3", 1, 3, 2)
        BUS.stuck[DMA2 + 0x10] = 1  # EN reads 1 forever
        with self.assertRaises(OSError) as cm:
            cap.start()
        self.assertEqual(cm.exception.errno, 110)


class TestAdcStall(_Stm32):
    def test_contracts_adc_read_times_out_when_the_dma_never_moves(self):
        # the fake DMA's NDTR stays where start() put it: on a board, a dead timer or ADC
        import asyncio

        from drivers.stm32_adc_dma import AdcDmaCapture

        cap = AdcDmaCapture("PA3", 1, 3, 2, ticks_us=lambda: 0)
        with self.assertRaises(OSError) as cm:
            asyncio.run(cap.read())
        self.assertEqual(cm.exception.errno, 110)
        self.assertEqual(cap.stalls, 1)
        self.assertEqual(value(BUS.log, last(BUS.log, wr(ADC1 + 0x08))), 0)  # ADC stopped
        cap.start()  # the next read() would do this itself
        BUS.regs[DMA2 + 0x14] = (cap.nblocks - 1) * cap.block  # one block written
        blk = asyncio.run(cap.read())
        self.assertEqual(len(blk), cap.block)
        self.assertEqual((cap.stalls, cap.overruns), (1, 0))


class TestDacDmaSequence(_Stm32):
    def test_contracts_dac_dma_setup_follows_rm0090(self):
        import machine
        from drivers.stm32_dac_tx import DacModulator

        mod = DacModulator("PA4", 6, machine.Pin("PG0", machine.Pin.OUT))
        self.assertEqual(mod.mode, "dma")
        half = mod._st[7]
        del BUS.log[:]
        mod._start_dma()
        log = BUS.log
        self.check_clocks_first(log, ((0x30, 21), (0x40, 29)), (DMA1, DAC))
        en = self.check_stream(log, DMA1, 5, 0xF40, DAC + 0x08, mod._ring, 2 * half, 7, 1)
        dac = last(log, wr(DAC + 0x00))
        self.assertGreater(dac, en)
        v = value(log, dac)
        self.assertEqual(v & 0x1005, 0x1005)  # DMAEN1 | TEN1 | EN1
        self.assertEqual((v >> 3) & 7, 0)  # TSEL1 = TIM6 TRGO
        t7 = first(log, lambda a, v: isinstance(a, tuple) and a[:2] == ("pyb.Timer", 7))
        self.assertGreater(self.check_trgo_after_timer(log, 6, TIM6, dac), t7)

    def test_contracts_dac_dma_stream_that_never_stops_times_out(self):
        import machine
        from drivers.stm32_dac_tx import DacModulator

        mod = DacModulator("PA4", 6, machine.Pin("PG0", machine.Pin.OUT))
        BUS.stuck[DMA1 + 0x88] = 1
        with self.assertRaises(OSError) as cm:
            mod._start_dma()
        self.assertEqual(cm.exception.errno, 110)


class TestDacStall(_Stm32):
    def test_contracts_dac_burst_ends_when_the_pacing_timer_never_fires(self):
        # the fake pyb.Timer never calls back: on a board that is a dead timer; the burst must
        # end (output parked, driver off, stall counted) instead of hanging send()/play()
        import asyncio
        from array import array

        import machine
        from drivers.stm32_dac_tx import DacModulator

        en = machine.Pin("PG0", machine.Pin.OUT)
        mod = DacModulator("PA4", 6, en)
        block = array("H", [2100] * 2304)  # both halves of the ring: one burst
        asyncio.run(mod.play(block))
        self.assertEqual(mod.stalls, 1)
        self.assertEqual(mod.bursts, 1)
        self.assertEqual(en.value(), 0)
        self.assertEqual(self.state.timers, {})  # both timers released
        asyncio.run(mod.play(block))  # and the next burst starts normally
        self.assertEqual(mod.bursts, 2)


_ERASED = b"\xff" * fakehw.BANK_SIZE


class Ticks:
    """An injected millisecond counter: each read is one ms later."""

    def __init__(self):
        self.t = 0

    def __call__(self):
        self.t += 1
        return self.t


class TestBank2Flash(_Stm32):
    def dev(self, sectors=(22, 23), ticks=None):
        from drivers.stm32_flash import Stm32Bank2Flash

        return Stm32Bank2Flash(sectors, ticks_ms=ticks)

    def test_contracts_flash_block_device_contract(self):
        import interfaces

        f = self.dev()
        self.assertEqual(interfaces.check_block_device(f), (2, 0x20000))
        self.assertEqual(self.state.irq_disabled, 0)
        self.assertFalse(self.state.flash.hard_locked)
        self.assertTrue(self.state.flash.cr & fakehw.CR_LOCK)  # locked again after use

    def test_contracts_flash_erase_sequence_and_sector_codes(self):
        from drivers import stm32_flash

        f = self.dev(tuple(range(17, 24)))
        model = self.state.flash
        for i, n in enumerate(range(17, 24)):
            del BUS.log[:]
            f.ioctl(6, i)
            self.assertTrue(model.busy)  # returns while the erase runs on ...
            f.ioctl(3, 0)  # ... and the next access (here: sync) waits for it and finishes it
            self.assertFalse(model.busy)
            log = BUS.log
            k1 = first(log, wr(FLASH + 0x04))
            self.assertEqual(value(log, k1), 0x45670123)
            self.assertEqual(log[k1 + 1], (FLASH + 0x04, 0xCDEF89AB))
            strt = first(log, lambda a, v: a == FLASH + 0x10 and v is not None and v & (1 << 16))
            self.assertGreater(strt, k1)
            cr = value(log, strt)
            self.assertEqual((cr >> 3) & 0x1F, n + 4)  # bank-2 sector codes are 16..27
            self.assertEqual((cr >> 8) & 3, 2)  # PSIZE x32
            self.assertTrue(cr & 2)  # SER
            self.assertEqual(value(log, last(log, wr(FLASH + 0x10))), 1 << 31)  # LOCK last
            self.assertEqual(model.erases.get(n), 1)
            addr = stm32_flash.sector_address(n)
            self.assertEqual(addr, 0x08120000 + (n - 17) * 0x20000)
            # the data cache was reset with the cache off (RM0090 3.5.2)
            acr = [v for a, v in log if a == FLASH and v is not None]
            self.assertIn(True, [bool(v & (1 << 12)) and not v & (1 << 10) for v in acr])
            self.assertTrue(acr[-1] & (1 << 10))  # and switched back on
        self.assertEqual(model.stale, set())
        with self.assertRaises(ValueError):
            self.dev((16, 17))  # the 64 KiB sector does not match the block size
        with self.assertRaises(ValueError):
            self.dev((11, 17))  # bank 1 holds the firmware

    def test_contracts_flash_low_group_is_one_block(self):
        # docs/download.md §3: sectors 12-16 (4 x 16 KiB + 64 KiB) are one 128 KiB block
        import interfaces
        from drivers import stm32_flash

        f = self.dev((stm32_flash.LOW_GROUP, 17))
        model = self.state.flash
        del BUS.log[:]
        self.assertEqual(interfaces.check_block_device(f, 0), (2, 0x20000))
        strt = [v for a, v in BUS.log if a == FLASH + 0x10 and v is not None and v & (1 << 16)]
        self.assertEqual([(v >> 3) & 0x1F for v in strt], list(range(16, 21)) * 2)  # 12..16
        self.assertEqual([model.erases.get(n) for n in range(12, 18)], [2] * 5 + [None])
        data = b"\x01\x02\x03\x04\x05\x06\x07\x08"
        for off in (0x4000 - 4, 0x10000 - 4, 0x20000 - 8):  # across 12|13, 15|16, to the end
            f.writeblocks(0, data, off)
            got = bytearray(8)
            f.readblocks(0, got, off)
            self.assertEqual(bytes(got), data)
            self.assertEqual(bytes(model.mem[off : off + 8]), data)  # from 0x08100000 on
        self.assertEqual(stm32_flash.sector_address(16), 0x08110000)
        with self.assertRaises(ValueError):
            self.dev(((12, 13, 14, 15), 17))  # 64 KiB: not a block

    def test_contracts_flash_program_skips_ones_and_locks_after(self):
        f = self.dev()
        f.ioctl(6, 0)
        del BUS.log[:]
        f.writeblocks(0, b"\xff\xff\xff\xff\x01\x02\x03\x04", 16)
        log = BUS.log
        programs = [(a, v) for a, v in log if isinstance(a, int) and 0x08000000 <= a < 0x08200000]
        self.assertEqual(programs, [(0x081C0000 + 20, 0x04030201)])  # one word, little-endian
        pg = last(log, lambda a, v: a == FLASH + 0x10 and v is not None and v & 1)
        self.assertEqual(value(log, pg), 0x201)  # PSIZE x32 | PG
        self.assertEqual(value(log, last(log, wr(FLASH + 0x10))), 1 << 31)
        buf = bytearray(8)
        f.readblocks(0, buf, 16)
        self.assertEqual(buf, b"\xff\xff\xff\xff\x01\x02\x03\x04")
        with self.assertRaises(OSError):
            f.writeblocks(0, b"\x00\x00", 16)  # not whole words
        with self.assertRaises(OSError):
            f.writeblocks(0, b"\x00" * 8, 0x20000 - 4)  # crosses the block end
        with self.assertRaises(OSError):
            f.readblocks(2, buf)

    def test_contracts_flash_error_flags_raise_and_clear(self):
        f = self.dev()
        model = self.state.flash
        model.fail_next = fakehw.SR_WRPERR
        with self.assertRaises(OSError) as cm:
            f.ioctl(6, 0)
        self.assertEqual(cm.exception.errno, 5)
        self.assertEqual(model.sr & 0x1F2, 0)  # cleared by the driver
        model.fail_next = fakehw.SR_PGPERR
        with self.assertRaises(OSError):
            f.writeblocks(1, b"\x00" * 8, 0)
        self.assertEqual(self.state.irq_disabled, 0)
        self.assertTrue(model.cr & fakehw.CR_LOCK)
        self.assertEqual(f.errors, 2)
        f.ioctl(6, 0)  # and it works again afterwards
        self.assertEqual(model.erases.get(22), 1)

    def test_contracts_flash_busy_forever_times_out(self):
        from drivers import stm32_flash

        ticks = Ticks()
        f = self.dev(ticks=ticks)
        model = self.state.flash
        model.stuck_busy = True
        with self.assertRaises(OSError) as cm:
            f.ioctl(6, 0)
        self.assertEqual(cm.exception.errno, 110)
        self.assertLessEqual(ticks.t, stm32_flash.ERASE_TIMEOUT_MS + 3)
        model.stuck_busy = False
        model.prog_polls = 10**9  # a program that never ends: bounded by polls (IRQs are off)
        with self.assertRaises(OSError) as cm:
            f.writeblocks(0, b"\x00" * 4, 0)
        self.assertEqual(cm.exception.errno, 110)
        self.assertEqual(self.state.irq_disabled, 0)

    # --- power cuts on the model -------------------------------------------------------------

    def _reboot(self):
        """Power-on after a cut: the controller locks and goes idle, memory keeps its bits."""
        self.state.flash.reset()
        self.state.flash.budget = -1
        self.state.irq_disabled = 0
        return self.dev()

    def _contents(self, s):
        return dict((k, s.get(k)) for k in s.keys())

    def _prepared(self, prepare):
        """An erased bank 2 with prepare(store) done on it; returns (model, memory snapshot)."""
        import store

        model = self.state.flash
        BUS.recording = False
        model.mem[:] = _ERASED
        dev = self._reboot()
        prepare(store.Store(dev))
        dev.ioctl(3, 0)  # let an erase the preparation started finish before the snapshot
        return model, bytearray(model.mem)

    def check_cuts(self, prepare, op, old, new, cuts):
        import store

        model, snap = self._prepared(prepare)
        seen = set()
        for cut in cuts:
            model.mem[:] = snap
            dev = self._reboot()
            s = store.Store(dev)
            model.budget = cut
            try:
                op(s)
                done = True
            except fakehw.PowerCut:
                done = False
            dev = self._reboot()
            r = store.Store(dev)
            got = self._contents(r)
            if done:
                self.assertEqual(got, new, "cut %d after completion" % cut)
            else:
                self.assertIn(got, (old, new), "cut %d" % cut)
            seen.add(got == new)
            r.put(99, b"after")  # the store keeps working after the cut
            again = store.Store(dev)  # same boot, same driver
            self.assertEqual(again.get(99), b"after")
            for k, v in got.items():
                self.assertEqual(again.get(k), v)
        self.assertEqual(seen, {False, True})
        self.assertFalse(model.hard_locked)

    def _ops_needed(self, prepare, op):
        """Flash operations (words programmed + 4 KiB erase chunks) op takes after prepare."""
        import store

        model, snap = self._prepared(prepare)
        s = store.Store(self._reboot())
        model.budget = 10**9
        op(s)
        used = 10**9 - model.budget
        model.budget = -1
        model.mem[:] = snap
        return used

    def test_contracts_flash_power_cut_every_word_of_an_append(self):
        def prep(s):
            s.put(1, b"old")
            s.put(2, b"keep")

        def op(s):
            s.put(1, b"new value!")

        n = self._ops_needed(prep, op)
        self.assertEqual(n, 9)  # 28-byte record in 7 words (one all-ones word skipped) + commit
        self.check_cuts(
            prep, op, {1: b"old", 2: b"keep"}, {1: b"new value!", 2: b"keep"}, range(n + 1)
        )

    def test_contracts_flash_power_cut_in_a_compaction(self):
        big = bytes(range(256))
        BUS.recording = False

        def prep(s):
            s.put(2, b"keep")
            while s.stats()["free"] >= 320:
                s.put(1, big)
            s.put(3, b"last")

        def op(s):
            self.assertLess(s.stats()["free"], 320)  # this put must compact
            s.put(1, bytes(reversed(big)))

        old = {1: big, 2: b"keep", 3: b"last"}
        n = self._ops_needed(prep, op)
        # The compaction programs the copied records, the new one and the seal, then erases the
        # old sector in 32 chunks of 4 KiB (n - 32 .. n - 1). Each cut costs several 128 KiB
        # scans on the model, so: both sides of the seal and of the erase, plus a seeded sample.
        random.seed(20261130)
        cuts = set((0, 1, 2, n - 34, n - 33, n - 32, n - 31, n - 1, n))
        while len(cuts) < 16:
            cuts.add(random.getrandbits(16) % (n + 1))
        self.assertGreater(n, 100)
        self.check_cuts(
            prep, op, old, {1: bytes(reversed(big)), 2: b"keep", 3: b"last"}, sorted(cuts)
        )

    def test_contracts_flash_kill_run(self):
        """host_tests/py/test_store_kill.py on the model: a counter with a payload derived from
        it is committed over and over; power goes at a seeded random flash operation; after
        each power-on, last committed <= recovered <= last committed + 1 and the payload
        matches. Cuts land in appends, compactions and erases of both sectors."""
        import store

        def encode(n):
            return n.to_bytes(4, "big") + bytes((n * 7 + i) & 0xFF for i in range(60 + n % 90))

        model = self.state.flash
        BUS.recording = False
        model.mem[:] = _ERASED
        random.seed(20261201)
        committed = 0
        for kill in range(24):
            s = store.Store(self._reboot())
            v = s.get(1)
            n = int.from_bytes(v[:4], "big") if v else 0
            self.assertIn(n, (committed, committed + 1), "kill %d" % kill)
            if v:
                self.assertEqual(v, encode(n))
            committed = n
            model.budget = random.getrandbits(12)
            try:
                while True:
                    s.put(1, encode(n + 1))
                    n += 1
                    committed = n
            except fakehw.PowerCut:
                pass
        self.assertGreater(committed, 1000)
        self.assertGreaterEqual(min(model.erases.get(22, 0), model.erases.get(23, 0)), 2)

    def test_contracts_flash_power_cut_in_the_first_format(self):
        def op(s):
            s.put(5, b"first")

        n = self._ops_needed(lambda s: None, op)
        self.check_cuts(lambda s: None, op, {}, {5: b"first"}, range(n + 1))
