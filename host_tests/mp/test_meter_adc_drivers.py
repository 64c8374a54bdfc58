"""Direct-ADC metering capture drivers on fake port modules that expose only the real ports'
APIs: drivers/stm32_meter_adc.py (ADC3 scan + DMA2 Stream1 + TIM3 on the recording fake
stm.mem32) and drivers/esp32_meter_i2s.py (machine.I2S RX of a stereo ADC on the fake esp32
machine module)."""

import unittest

from contract_env import use_port
from fakes import fakehw
from fakes.fakehw import BUS
from test_contracts_stm32 import RCC, _Stm32, first, last, value, wr

ADC3 = 0x40012200
DMA2 = 0x40026400
TIM3 = 0x40000400
NDTR1 = DMA2 + 0x2C


class TestStm32MeterAdcSetup(_Stm32):
    def test_registers_follow_rm0090(self):
        from drivers.stm32_meter_adc import MeterAdc

        cap = MeterAdc("PC0", 10, "PC3", 13)
        BUS.log.clear()
        cap.start()
        log = BUS.log
        self.check_clocks_first(log, ((0x44, 10), (0x30, 22)), (ADC3, DMA2))
        en = self.check_stream(log, DMA2, 1, 0x3D << 6, ADC3 + 0x4C, cap._ring, 12800, 2, 0)
        self.assertEqual(value(log, last(log, wr(ADC3 + 0x04))) & (1 << 8), 1 << 8)  # SCAN
        self.assertEqual(value(log, last(log, wr(ADC3 + 0x2C))), 1 << 20)  # L = 1
        self.assertEqual(value(log, last(log, wr(ADC3 + 0x34))), 10 | 13 << 5)  # SQ1 V, SQ2 I
        smpr1 = value(log, last(log, wr(ADC3 + 0x0C)))
        self.assertEqual(((smpr1 >> 0) & 7, (smpr1 >> 9) & 7), (0b100, 0b100))  # IN10, IN13
        cr2 = last(log, wr(ADC3 + 0x08))
        v = value(log, cr2)
        self.assertEqual((v >> 24) & 15, 0b1000)  # EXTSEL = TIM3 TRGO
        self.assertEqual((v >> 28) & 3, 1)  # rising edge
        self.assertTrue(v & (1 << 8) and v & (1 << 9) and v & 1)  # DMA, DDS, ADON
        self.assertGreater(cr2, en)  # the stream runs before the first trigger
        t = self.check_trgo_after_timer(log, 3, TIM3, cr2)
        self.assertEqual(fakehw.STATE.timers[3].freq_hz, 4000)
        self.assertGreater(t, first(log, wr(RCC + 0x44)))
        cap.stop()
        self.assertNotIn(3, fakehw.STATE.timers)


class TestStm32MeterAdcRing(_Stm32):
    def setUp(self):
        super().setUp()
        from drivers.stm32_meter_adc import MeterAdc

        self.us = 0
        self.cap = MeterAdc("PC0", 10, "PC3", 13, block=160, nblocks=40, ticks_us=self._us)
        self.cap.start()
        self.w = 0  # halfwords the "DMA" wrote

    def _us(self):
        return self.us

    def dma(self, pairs):
        ln = self.cap._len
        for _ in range(2 * pairs):
            self.cap._ring[self.w % ln] = (self.w >> 1) & 4095
            self.w += 1
        BUS.regs[NDTR1] = ln - self.w % ln
        self.us = (self.w >> 1) * 250  # 4 kHz pairs

    def drain(self):
        out = []
        while True:
            b = self.cap.take()
            if b is None:
                return out
            out.append(b[0])

    def test_blocks_in_order_and_partial_blocks_wait(self):
        self.dma(1000)
        self.assertEqual(self.drain(), [0, 160, 320, 480, 640, 800])
        self.dma(119)  # 1119 pairs: block 6 (960..1119) not complete
        self.assertEqual(self.drain(), [])
        self.dma(1)
        self.assertEqual(self.drain(), [960])
        self.assertEqual(self.cap.overruns, 0)

    def test_a_second_between_reads_loses_nothing_laps_are_counted(self):
        got = []
        for _ in range(5):  # 1 s per read, ring 1.6 s
            self.dma(4000)
            got += self.drain()
        self.assertEqual(len(got), 125)
        self.assertEqual(got[:3], [0, 160, 320])
        self.assertEqual(self.cap.overruns, 0)
        self.dma(4000 * 3)  # a 3-second stall: 75 blocks, the ring keeps the newest 39
        self.assertEqual(len(self.drain()), 39)
        self.assertEqual(self.cap.overruns, 75 - 39)

    def test_adc_overrun_restarts(self):
        self.dma(400)
        BUS.regs[ADC3] = 1 << 5  # OVR
        self.assertIsNone(self.cap.take())
        self.assertEqual((self.cap.restarts, self.cap.overruns), (1, 1))


class TestEsp32MeterI2s(unittest.TestCase):
    def setUp(self):
        use_port("esp32")
        fakehw.board_esp32()

    def tearDown(self):
        use_port(None)

    def test_stereo_words_become_12_bit_pairs_at_a_quarter_rate(self):
        import asyncio
        import struct

        import machine
        from drivers.esp32_meter_i2s import MeterI2s

        src = MeterI2s(1, 26, 25, 35, block=8, nblocks=2)
        self.assertEqual(src.fs, 4000)
        src.start()
        i2s = src._i2s
        self.assertEqual(i2s.id, 1)
        self.assertEqual(i2s.kw["mode"], machine.I2S.RX)
        self.assertEqual((i2s.kw["bits"], i2s.kw["format"]), (32, machine.I2S.STEREO))
        self.assertEqual(i2s.kw["rate"], 16000)
        self.assertEqual([i2s.kw[k].id for k in ("sck", "ws", "sd")], [26, 25, 35])

        def block(base):
            # 32 stereo frames, 4 per output pair: left = V, right = I, 24-bit MSB-aligned in
            # 32-bit slots; each group of 4 frames averages to its value (v in 12 bits)
            words, want = [], []
            for j in range(8):
                v = base + 100 * j
                for d in (-3, -1, 1, 3):
                    words += [((v << 20) + (d << 16)) & 0xFFFFFFFF, ((-v) << 20) & 0xFFFFFFFF]
                want += [2048 + v, 2048 - v]
            return struct.pack("<64I", *words), want

        self.assertIsNone(src.take())
        data, want = block(-400)
        i2s.feed(data)
        asyncio.run(src.pump())
        self.assertEqual(list(src.take()), want)
        self.assertIsNone(src.take())
        for base in (-2000, 1000, 1500):  # three blocks into a ring of two: one lost
            data, want = block(base)
            i2s.feed(data)
            asyncio.run(src.pump())
        self.assertEqual(src.overruns, 1)
        self.assertEqual(list(src.take())[:2], [2048 + 1000, 2048 - 1000])
        self.assertEqual(list(src.take())[:2], [2048 + 1500, 2048 - 1500])
        self.assertIsNone(src.take())
        src.stop()


class TestNucleoAdcBranch(_Stm32):
    def test_cfg_metrology_adc_builds_the_direct_adc_front_end(self):
        import config
        import interfaces

        import boards.nucleo_f429zi as board

        cfg = config.load(None, {"state_dir": "/tmp/mm_nucleo_adc", "metrology": "adc"})
        hw = board.build(cfg)
        interfaces.check_metrology(hw.metrology)
        self.assertEqual(hw.metrology.name, "adc")
        src = hw.metrology._src
        self.assertEqual((src._pins, src._ch, src.fs), (("PC0", "PC3"), (10, 13), 4000))
        self.assertFalse(src._running)  # the first read starts the capture


class TestEsp32AdcBranch(unittest.TestCase):
    def setUp(self):
        use_port("esp32")
        fakehw.board_esp32()

    def tearDown(self):
        use_port(None)

    def _cfg(self, backend):
        import config

        return config.load(None, {"seed": 1, "plc_backend": backend, "metrology": "adc"})

    def test_cfg_metrology_adc_builds_the_front_end_on_i2s1(self):
        import asyncio

        import interfaces
        import machine
        from app import Meter
        from metrology.sample import Sample

        import boards.esp32_devkitc as board

        cfg = self._cfg("modem")
        hw = board.build(cfg)
        fe = hw.metrology
        interfaces.check_metrology(fe)
        self.assertEqual((fe.name, fe.fs), ("adc", 4000))
        # the I2S drain is the front-end's run(), which the metering feature supervises
        tasks = dict(Meter(hw, cfg).feature_tasks)
        self.assertEqual(tasks["metrology"], fe.run)

        async def one_block():
            pump = asyncio.create_task(fe.run())
            await asyncio.sleep_ms(0)
            i2s = fe._src._i2s  # created by run(): machine.I2S(1, ...) of the esp32 port
            self.assertEqual((i2s.id, i2s.kw["mode"], i2s.kw["rate"]), (1, machine.I2S.RX, 16000))
            self.assertEqual((i2s.kw["bits"], i2s.kw["format"]), (32, machine.I2S.STEREO))
            pins = [i2s.kw[k].id for k in ("sck", "ws", "sd")]
            self.assertEqual(pins, list(board.METER_I2S[1:]))
            i2s.feed(bytes(160 * 4 * 8))  # one block: 160 pairs of 4 stereo 32-bit frames
            for _ in range(4):
                await asyncio.sleep_ms(0)
            pump.cancel()

        asyncio.run(one_block())
        s = Sample()
        self.assertTrue(fe.measure(s))  # 160 pairs at 4 kHz: one 40 ms block metered
        self.assertEqual(s.dt_ms, 40)

    def test_cfg_metrology_adc_with_the_soft_phy_is_a_config_error(self):
        from config import ConfigError

        import boards.esp32_devkitc as board

        with self.assertRaises(ConfigError):  # the soft PHY holds both I2S ports
            board.build(self._cfg("soft"))
