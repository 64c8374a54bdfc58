"""Monochrome meter display on an SSD1306-class controller (128x64, I2C), drawn with framebuf.

Commands are from the SSD1306 datasheet (Solomon Systech, rev 1.1, section 10 command table).
`SimDisplay` in drivers/sim/display.py shares the drawing and writes frames to a file.
"""

import framebuf

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
