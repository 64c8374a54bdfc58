"""HT1621 segment LCD: the 3-wire bit stream the driver puts on machine.Pin, checked against the
datasheet's frame formats (Holtek HT1621 rev 1.30: command 100 + 8 bits + X, write 101 + A5..A0
+ D0..D3 LSB first, successive addresses) and against the glass map of docs/display.md §3, both
written out here by hand; the simulated chip's decoding against the same wire decoder; the
boards wiring the glass on their fake port pins."""

import random
import unittest

from contract_env import use_port
from drivers.ht1621 import Ht1621, cells, put_digits
from drivers.sim.ht1621 import Ht1621Chip
from drivers.sim.pin import SimPin
from fakes import fakehw
from screens.frame import ICON_ALARM, ICON_IMPORT, ICON_T1, ICON_T2, U_KWH, Frame

# datasheet command codes, written as the bits after the 100 mode ID (8 command bits + X = 0)
SYS_EN = "000000010"  # 0x01
RC_256K = "000110000"  # 0x18
BIAS_13_4COM = "001010010"  # 0x29: 0010 ab=10 X c=1
LCD_ON = "000000110"  # 0x03
LCD_OFF = "000000100"  # 0x02


class Wire:
    """What the glass sees on CS/WR/DATA: one string of bits per CS-low frame, DATA sampled on
    each WR rising edge. Written from the datasheet timing, sharing nothing with the driver."""

    def __init__(self, cs, wr, data):
        self.frames = []
        self._bits = None
        self.data = data
        cs.on_change = self._cs
        wr.on_change = self._wr

    def _cs(self, level):
        if level == 0:
            self._bits = []
        elif self._bits is not None:
            self.frames.append("".join(self._bits))
            self._bits = None

    def _wr(self, level):
        if level == 1 and self._bits is not None:
            self._bits.append("1" if self.data.value() else "0")


def _pins():
    return SimPin("cs", 1), SimPin("wr", 1), SimPin("data", 0)


def _driver():
    cs, wr, data = _pins()
    wire = Wire(cs, wr, data)
    return Ht1621(cs, wr, data), wire


def _ram_of(frame_bits):
    """32 nibbles (bit n = COMn) from a write frame that starts at address 0."""
    assert frame_bits[:3] == "101" and frame_bits[3:9] == "000000"
    out = []
    for a in range(32):
        d = frame_bits[9 + 4 * a : 13 + 4 * a]  # D0 D1 D2 D3
        out.append(sum(1 << i for i in range(4) if d[i] == "1"))
    return out


class TestStream(unittest.TestCase):
    def test_ht1621_init_is_the_datasheet_command_sequence(self):
        d, wire = _driver()
        self.assertEqual(wire.frames[0], "100" + SYS_EN + RC_256K + BIAS_13_4COM + LCD_ON)
        self.assertEqual(len(wire.frames[0]), 3 + 4 * 9)
        # then the whole RAM cleared in one successive-address write: 137 clocks
        self.assertEqual(wire.frames[1], "101" + "000000" + "0" * 128)
        self.assertEqual(len(wire.frames), 2)

    def test_ht1621_single_command_frame_is_12_clocks(self):
        d, wire = _driver()
        d.off()
        self.assertEqual(wire.frames[-1], "100" + LCD_OFF)
        self.assertEqual(len(wire.frames[-1]), 12)

    def test_ht1621_segment_map_of_the_documented_glass(self):
        d, wire = _driver()
        f = Frame()
        f.set_code(b"1.8")
        f.set_value(b"7")  # right aligned: digit 8
        f.unit = U_KWH
        f.icons = ICON_T1 | ICON_ALARM
        d.render(f)
        # every refresh: the set-up commands again (a reset controller recovers), then the RAM
        self.assertEqual(wire.frames[-2], "100" + SYS_EN + RC_256K + BIAS_13_4COM + LCD_ON)
        bits = wire.frames[-1]
        self.assertEqual(len(bits), 137)
        ram = _ram_of(bits)
        # docs/display.md §3: digit k (1..8) = SEG 2k-2 (COM0..3 = a b c d) and SEG 2k-1
        # (COM0..3 = e f g dp); '7' = a b c
        self.assertEqual(ram[14], 0b0111)
        self.assertEqual(ram[15], 0)
        self.assertEqual(ram[:14], [0] * 14)
        # code digit 1 = SEG16/17: '1' = b c, with the point (SEG17 COM3); digit 2 '8' = all
        self.assertEqual((ram[16], ram[17]), (0b0110, 0b1000))
        self.assertEqual((ram[18], ram[19]), (0b1111, 0b0111))
        self.assertEqual(ram[20:24], [0, 0, 0, 0])
        self.assertEqual(ram[24], 0b0001)  # SEG24 COM0 = T1
        self.assertEqual(ram[25], 0)
        self.assertEqual(ram[26], 0b0010)  # SEG26 COM1 = ALARM
        self.assertEqual(ram[27], 0b0001)  # SEG27 COM0 = kWh
        self.assertEqual(ram[28:], [0, 0, 0, 0])

    def test_ht1621_refresh_example_of_the_doc(self):
        with open("docs/display.md") as f:
            doc = f.read()
        start = doc.index("```\n101 000000 ") + 4
        bits = "".join(c for c in doc[start : doc.index("```", start)] if c in "01")
        d, wire = _driver()
        f = Frame()
        f.set_code(b"1.8.0")
        f.set_value(b"0001234.5")
        f.unit = U_KWH
        f.icons = ICON_T2 | ICON_IMPORT
        d.render(f)
        self.assertEqual(wire.frames[-1], bits)

    def test_ht1621_chip_model_decodes_what_the_wire_carries(self):
        random.seed(1621)
        rnd = random
        chip = Ht1621Chip()
        wire = Wire(chip.cs, chip.wr, chip.data)
        # the model keeps its own CS/WR handlers: chain them behind the wire decoder's
        cs_w, wr_w = chip.cs.on_change, chip.wr.on_change
        chip.cs.on_change = lambda v: (cs_w(v), chip._cs(v))
        chip.wr.on_change = lambda v: (wr_w(v), chip._wr(v))
        d = Ht1621(chip.cs, chip.wr, chip.data)
        self.assertEqual(bytes(chip.commands[: chip.ncommands]), b"\x01\x18\x29\x03")
        self.assertTrue(chip.lcd_on and chip.sys_on)
        f = Frame()
        for _ in range(50):
            f.set_value(bytes(rnd.randrange(0x20, 0x7F) for _ in range(rnd.randrange(17))))
            f.set_code(bytes(b"0123456789.CF"[rnd.randrange(13)] for _ in range(rnd.randrange(9))))
            f.icons = rnd.getrandbits(10)
            f.unit = rnd.randrange(7)
            f.left = bool(rnd.getrandbits(1))
            d.render(f)
            self.assertEqual(list(chip.ram), _ram_of(wire.frames[-1]))
        self.assertEqual(chip.errors, 0)

    def test_ht1621_chip_model_ignores_a_frame_cut_short(self):
        chip = Ht1621Chip()
        d = Ht1621(chip.cs, chip.wr, chip.data)
        before = bytes(chip.ram)
        chip.cs.value(0)
        for bit in (1, 0, 1, 0, 0, 0):  # write mode, address half sent, then CS high
            chip.wr.value(0)
            chip.data.value(bit)
            chip.wr.value(1)
        chip.cs.value(1)
        self.assertEqual(bytes(chip.ram), before)
        d.off()
        self.assertFalse(chip.lcd_on)


class TestDigits(unittest.TestCase):
    def test_ht1621_points_join_the_digit_before(self):
        self.assertEqual(cells(b"0001234.5", 9), 8)
        self.assertEqual(cells(b"12:34:56", 8), 6)
        self.assertEqual(cells(b".5", 2), 2)  # a leading point takes a cell of its own
        self.assertEqual(cells(b"1..2", 4), 3)

    def test_ht1621_alignment_and_overlong_text(self):
        ram = bytearray(8)
        put_digits(ram, 0, 8, b"23.5", 4, True)
        self.assertEqual(bytes(ram), bytes((0, 0, 0, 0, 0, 0x5B, 0x4F | 0x80, 0x6D)))
        put_digits(ram, 0, 8, b"AB", 2, False)
        self.assertEqual(bytes(ram), bytes((0x77, 0x7C, 0, 0, 0, 0, 0, 0)))
        put_digits(ram, 0, 8, b"123456789", 9, True)  # the first 8 cells, never past the field
        self.assertEqual(ram[7], 0x7F)  # '8'
        put_digits(ram, 0, 8, b"\xff\x00", 2, False)  # not ASCII: blank cells
        self.assertEqual(bytes(ram), bytes(8))


class _Board:
    """Mixed into one TestCase per board."""

    PORT = None
    BOARD = None
    PINS = None

    def setUp(self):
        use_port(self.PORT)
        self.state = fakehw.board_stm32() if self.PORT == "stm32" else fakehw.board_esp32()

    def tearDown(self):
        use_port(None)

    def test_display_board_wires_the_segment_glass(self):
        import config
        import interfaces

        board = __import__("boards." + self.BOARD, None, None, ["build"])
        hw = board.build(config.load(None, {"display": "segment", "seed": 7}))
        interfaces.check_display(hw.display)
        cs, wr, data = (self.state.pins[p] for p in self.PINS)
        for p in (cs, wr, data):
            self.assertEqual(p.mode, p.OUT)
        self.assertEqual((cs.value(), wr.value()), (1, 1))  # idle: CS and WR high
        wire = Wire(cs, wr, data)
        f = Frame()
        f.set_value(b"8")
        hw.display.render(f)
        self.assertEqual(_ram_of(wire.frames[-1])[14:16], [0b1111, 0b0111])

    def test_display_board_default_is_the_dot_matrix(self):
        import config

        board = __import__("boards." + self.BOARD, None, None, ["build"])
        hw = board.build(config.load(None, {"seed": 7}))
        self.assertEqual(hw.display.cols, 16)
        self.assertTrue(self.state.i2c_writes)  # the SSD1306 init went out on I2C


class TestNucleo(_Board, unittest.TestCase):
    PORT = "stm32"
    BOARD = "nucleo_f429zi"
    PINS = ("PE2", "PE4", "PE5")


class TestEsp32(_Board, unittest.TestCase):
    PORT = "esp32"
    BOARD = "esp32_devkitc"
    PINS = (23, 22, 21)
