"""Monochrome meter display on an SSD1306-class controller (128x64, I2C), drawn with framebuf.

Commands are from the SSD1306 datasheet (Solomon Systech, rev 1.1, section 10 command table).
`SimDisplay` in drivers/sim/display.py shares the drawing and writes frames to a file.
Screen layout of a frame (docs/display.md §2), 8x8 font:
  y 0   OBIS code (left)                          tariff and arrow ("T1 ->", right)
  y 20  value, right aligned (text: left aligned), 16 characters
  y 32  unit (right)
  y 54  OPEN ARM COM ALM (the lit indications)
"""

import framebuf
from micropython import const
from screens.frame import (
    ICON_ALARM,
    ICON_ARMED,
    ICON_COMM,
    ICON_EXPORT,
    ICON_IMPORT,
    ICON_NAMES,
    ICON_RELAY_OPEN,
    UNIT_NAMES,
)

_COLS = const(16)
# bottom-row tags of icon bits 6..9 and their x positions
_TAGS = (
    (ICON_RELAY_OPEN, b"OPEN", 0),
    (ICON_ARMED, b"ARM", 40),
    (ICON_COMM, b"COM", 72),
    (ICON_ALARM, b"ALM", 104),
)

_INIT = (
    0xAE,  # display off
    0x20, 0x00,  # horizontal addressing mode
    0x40,  # start line 0
    0xA1,  # segment remap (column 127 -> SEG0)
    0xC8,  # COM scan direction remapped
    0xA8, 0x3F,  # multiplex ratio 64
    0xD3, 0x00,  # display offset 0
    0xD5, 0x80,  # clock divide / oscillator
    0xD9, 0xF1,  # pre-charge (internal charge pump)
    0xDA, 0x12,  # COM pins: alternative configuration
    0xDB, 0x30,  # VCOMH deselect level
    0x81, 0x7F,  # contrast
    0x8D, 0x14,  # charge pump on
    0xA4,  # resume to RAM content
    0xA6,  # normal (not inverted)
    0xAF,  # display on
)  # fmt: skip


class Screen(framebuf.FrameBuffer):
    """A framebuf with the meter's text layout; subclasses define show() for their device."""

    cols = _COLS

    def __init__(self, width=128, height=64):
        self.width = width
        self.height = height
        self.buffer = bytearray(width * height // 8)
        super().__init__(self.buffer, width, height, framebuf.MONO_VLSB)

    def lines(self, rows):
        """Draw up to height/10 rows of text (8x8 font, 10-pixel pitch)."""
        self.fill(0)
        for i, row in enumerate(rows[: self.height // 10]):
            self.text(row[: self.width // 8], 0, i * 10, 1)
        self.show()  # each device class pushes the buffer its own way

    def render(self, frame):
        """interfaces.Display: draw a screens.frame.Frame and show it."""
        self.fill(0)
        # never an empty bytes(): framebuf.text() of one made from an empty slice crashes the
        # unix port (v1.29.0-preview: a segmentation fault)
        if frame.code_n:
            self.text(bytes(frame.code[: frame.code_n]), 0, 0, 1)
        n = min(frame.value_n, self.width // 8)
        if n:
            x = 0 if frame.left else self.width - 8 * n
            self.text(bytes(frame.value[:n]), x, 20, 1)
        unit = UNIT_NAMES[frame.unit]
        self.text(unit, self.width - 8 * len(unit), 32, 1)
        for i in range(4):
            if frame.icons >> i & 1:
                self.text(ICON_NAMES[i], 88, 0, 1)
        if frame.icons & (ICON_IMPORT | ICON_EXPORT):
            self.text(ICON_NAMES[4 if frame.icons & ICON_IMPORT else 5], 112, 0, 1)
        for bit, tag, x in _TAGS:
            if frame.icons & bit:
                self.text(tag, x, 54, 1)
        self.show()


class SSD1306(Screen):
    def __init__(self, i2c, addr=0x3C, width=128, height=64):
        super().__init__(width, height)
        self.i2c = i2c
        self.addr = addr
        self._cmd = bytearray(2)
        for c in _INIT:
            self.command(c)
        self.show()

    def command(self, c):
        self._cmd[0] = 0x80  # Co=1, D/C#=0: one command byte follows
        self._cmd[1] = c
        self.i2c.writeto(self.addr, self._cmd)

    def show(self):
        for c in (0x21, 0, self.width - 1, 0x22, 0, self.height // 8 - 1):
            self.command(c)
        # 0x40: Co=0, D/C#=1 - the rest of the transfer is display RAM
        self.i2c.writevto(self.addr, (b"\x40", self.buffer))
