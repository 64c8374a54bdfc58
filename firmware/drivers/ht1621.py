"""Segment LCD on an HT1621 (Holtek, datasheet rev 1.30): 32 SEG x 4 COM = 128 segments.

Three wires, bit-banged through machine.Pin: CS (low = a frame), WR (DATA latched on its rising
edge), DATA. Frames (datasheet "Command format"):
  command  100 + C7..C0 + X (12 clocks; further 9-bit commands may follow while CS stays low)
  write    101 + A5..A0 (MSB first) + D0..D3 per address (LSB first), successive addresses
           auto-increment: a whole refresh (32 addresses) is 3 + 6 + 128 = 137 clocks
At 168 MHz a Pin.value() call takes longer than the 4 us WR cycle the datasheet asks at 3 V,
so the bit-bang needs no delays.

The glass (a typical meter LCD, docs/display.md §3) is GLASS below: RAM byte k of `ram` holds
SEG 2k in its low nibble and SEG 2k+1 in its high nibble, bit n of a nibble driving COMn.
  bytes 0..7   main digits 1..8, left to right: bit0..6 = segments a..g, bit7 = decimal point
  bytes 8..11  OBIS code digits 1..4 (small), same bit order
  byte 12      SEG24 COM0..3 = T1 T2 T3 T4, SEG25 COM0..3 = import, export, relay open, armed
  byte 13      SEG26 COM0..3 = COM, ALARM, kvarh, Hz;  SEG27 COM0..3 = kWh, kW, V, A
  bytes 14..15 SEG28..31 not connected (written 0)
"""

from micropython import const
from screens.frame import U_A, U_HZ, U_KVARH, U_KW, U_KWH, U_V

# command codes (datasheet command summary; sent as 100 + 8 bits + X = 0)
SYS_DIS = const(0x00)
SYS_EN = const(0x01)
LCD_OFF = const(0x02)
LCD_ON = const(0x03)
RC_256K = const(0x18)
BIAS_13_4COM = const(0x29)  # 0010abXc: ab = 10 (4 COM), c = 1 (1/3 bias)
INIT = (SYS_EN, RC_256K, BIAS_13_4COM, LCD_ON)

ID_COMMAND = const(0b100)
ID_WRITE = const(0b101)

# the glass (bytes of `ram`)
MAIN_DIGITS = const(8)
MAIN_AT = const(0)
CODE_DIGITS = const(4)
CODE_AT = const(8)
ICONS_AT = const(12)  # byte 12 = frame icon bits 0..7, byte 13 bits 0..1 = icon bits 8..9
UNITS_AT = const(13)  # byte 13 bits 2..7: unit segments
RAM_BYTES = const(16)
# unit code -> bit of byte 13
UNIT_BITS = {U_KVARH: 0x04, U_HZ: 0x08, U_KWH: 0x10, U_KW: 0x20, U_V: 0x40, U_A: 0x80}
DP = const(0x80)

# 7-segment shapes of ASCII 0x20..0x7F (bit0 = a ... bit6 = g). Letters without a 7-segment
# form get the nearest one (M as a wide n, N as n, V and W as U, X as H); lower case letters
# with a shape of their own (b c d h i n o r t u v w) keep it, the others use the upper case one.
# fmt: off
FONT = bytes((
    0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x20,  # space ! " # $ % & '
    0x39, 0x0F, 0x00, 0x00, 0x00, 0x40, 0x00, 0x52,  # ( ) * + , - . /
    0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07,  # 0..7
    0x7F, 0x6F, 0x00, 0x00, 0x00, 0x48, 0x00, 0x53,  # 8 9 : ; < = > ?
    0x00, 0x77, 0x7C, 0x39, 0x5E, 0x79, 0x71, 0x3D,  # @ A B C D E F G
    0x76, 0x30, 0x1E, 0x75, 0x38, 0x37, 0x54, 0x3F,  # H I J K L M N O
    0x73, 0x67, 0x50, 0x6D, 0x78, 0x3E, 0x3E, 0x3E,  # P Q R S T U V W
    0x76, 0x6E, 0x5B, 0x39, 0x64, 0x0F, 0x23, 0x08,  # X Y Z [ \ ] ^ _
    0x20, 0x77, 0x7C, 0x58, 0x5E, 0x79, 0x71, 0x3D,  # ` a b c d e f g
    0x74, 0x10, 0x1E, 0x75, 0x38, 0x37, 0x54, 0x5C,  # h i j k l m n o
    0x73, 0x67, 0x50, 0x6D, 0x78, 0x1C, 0x1C, 0x1C,  # p q r s t u v w
    0x76, 0x6E, 0x5B, 0x39, 0x30, 0x0F, 0x40, 0x00,  # x y z { | } ~ DEL
))
# fmt: on


def glyph(c):
    return FONT[c - 0x20] if 0x20 <= c <= 0x7F else 0


def _is_point(c):
    return c == 0x2E or c == 0x2C or c == 0x3A  # . , : light the decimal point


def cells(text, n):
    """Digit cells text[:n] takes: a point joins the character before it."""
    k = 0
    for i in range(n):
        if not (_is_point(text[i]) and i > 0 and not _is_point(text[i - 1])):
            k += 1
    return k


def put_digits(ram, at, width, text, n, right):
    """Draw text[:n] into the `width` digit bytes at ram[at], aligned right or left; a text
    longer than the field keeps its first `width` cells."""
    for i in range(width):
        ram[at + i] = 0
    used = cells(text, n)
    pos = at + (width - used if right and used < width else 0) - 1
    end = at + width
    for i in range(n):
        c = text[i]
        if _is_point(c) and i > 0 and not _is_point(text[i - 1]):
            if at <= pos < end:
                ram[pos] |= DP
            continue
        pos += 1
        if pos >= end:
            break
        ram[pos] = glyph(c)


class Ht1621:
    """interfaces.Display on an HT1621 segment glass; `ram` is the image last written."""

    cols = MAIN_DIGITS

    def __init__(self, cs, wr, data):
        self.cs = cs
        self.wr = wr
        self.data = data
        self.ram = bytearray(RAM_BYTES)
        self.refreshes = 0
        cs.value(1)
        wr.value(1)
        data.value(0)
        self.commands(INIT)
        self.write_ram()

    def _bits(self, v, n):
        # n bits of v, most significant first; DATA changes while WR is low
        wr = self.wr
        data = self.data
        for i in range(n - 1, -1, -1):
            wr.value(0)
            data.value((v >> i) & 1)
            wr.value(1)

    def commands(self, codes):
        """One command frame: 100, then each code as 8 bits + X (0), CS low throughout."""
        self.cs.value(0)
        self._bits(ID_COMMAND, 3)
        for c in codes:
            self._bits(c << 1, 9)
        self.cs.value(1)

    def write_ram(self):
        """The whole image in successive-address mode from address 0 (137 clocks)."""
        self.cs.value(0)
        self._bits(ID_WRITE, 3)
        self._bits(0, 6)
        wr = self.wr
        data = self.data
        for b in self.ram:
            for i in range(8):  # SEG 2k nibble then SEG 2k+1 nibble, each D0 (COM0) first
                wr.value(0)
                data.value((b >> i) & 1)
                wr.value(1)
        self.cs.value(1)
        self.refreshes += 1

    def render(self, frame):
        ram = self.ram
        put_digits(ram, MAIN_AT, MAIN_DIGITS, frame.value, frame.value_n, not frame.left)
        put_digits(ram, CODE_AT, CODE_DIGITS, frame.code, frame.code_n, False)
        ram[ICONS_AT] = frame.icons & 0xFF
        ram[UNITS_AT] = (frame.icons >> 8) & 0x03 | UNIT_BITS.get(frame.unit, 0)
        # the set-up again first (39 clocks): a controller reset by a supply dip or an ESD hit
        # shows the next screen instead of staying blank with its power-on defaults
        self.commands(INIT)
        self.write_ram()

    def off(self):
        self.commands((LCD_OFF,))


def on_pins(pin, cs, wr, data):
    """An Ht1621 on three port pins: `pin` is machine.Pin, cs/wr/data the pin ids (CS and WR
    idle high, DATA low)."""
    return Ht1621(
        pin(cs, pin.OUT, value=1), pin(wr, pin.OUT, value=1), pin(data, pin.OUT, value=0)
    )
