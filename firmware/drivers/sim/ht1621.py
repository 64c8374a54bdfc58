"""unix_sim segment display: the real HT1621 driver (drivers/ht1621.py) bit-banging three SimPins
into a model of the chip, which decodes the 3-wire stream the way the datasheet describes
(mode ID after CS falls, DATA sampled on WR rising edges, CS high ends a frame) into its 32 x 4
bit display RAM. What the meter shows is read back from that RAM: as ASCII-art 7-segment text
for the terminal, and as a state file `tools/display_png.py` turns into a PNG picture.

State file (one line, rewritten on every refresh): "HT1621 " + 32 hex digits, the nibbles of
RAM addresses 0..31 (bit n = COMn), then " on" or " off" (LCD ON/OFF).
"""

from screens.frame import ICON_NAMES, UNIT_NAMES

from drivers.ht1621 import (
    CODE_AT,
    CODE_DIGITS,
    ICONS_AT,
    LCD_OFF,
    LCD_ON,
    MAIN_AT,
    MAIN_DIGITS,
    SYS_DIS,
    SYS_EN,
    UNIT_BITS,
    Ht1621,
)
from drivers.sim.pin import SimPin


class Ht1621Chip:
    """The controller end of the three wires: frames decoded into `ram` (32 nibbles)."""

    def __init__(self):
        self.ram = bytearray(32)
        self.lcd_on = False
        self.sys_on = False
        self.commands = bytearray(64)  # the first command codes received, in order
        self.ncommands = 0  # all of them (preallocated: a refresh allocates nothing)
        self.errors = 0  # frames with an unknown mode ID
        self.cs = SimPin("ht1621_cs", 1, on_change=self._cs)
        self.wr = SimPin("ht1621_wr", 1, on_change=self._wr)
        self.data = SimPin("ht1621_data", 0)
        self._reset()

    def _reset(self):
        self._mode = 0
        self._nbits = 0  # bits of the current field so far
        self._acc = 0
        self._addr = -1

    def _cs(self, level):
        self._reset()  # CS high ends any frame; CS low starts a new mode ID

    def _wr(self, level):
        if not level or self.cs.value():
            return
        self._acc = (self._acc << 1) | self.data.value()
        self._nbits += 1
        if self._mode == 0:
            if self._nbits == 3:
                self._mode = self._acc
                if self._mode not in (0b100, 0b101):
                    self.errors += 1
                self._field()
        elif self._mode == 0b100:
            if self._nbits == 9:
                self._command(self._acc >> 1)
                self._field()
        elif self._mode == 0b101:
            if self._addr < 0:
                if self._nbits == 6:
                    self._addr = self._acc
                    self._field()
            elif self._nbits == 4:
                a = self._acc  # arrived D0 first: reverse into bit n = COMn
                self.ram[self._addr] = (a >> 3) & 1 | (a >> 1) & 2 | (a << 1) & 4 | (a << 3) & 8
                self._addr = (self._addr + 1) & 31
                self._field()

    def _field(self):
        self._nbits = 0
        self._acc = 0

    def _command(self, c):
        if self.ncommands < len(self.commands):
            self.commands[self.ncommands] = c
        self.ncommands += 1
        if c == SYS_EN:
            self.sys_on = True
        elif c == SYS_DIS:
            self.sys_on = False
            self.lcd_on = False
        elif c == LCD_ON:
            self.lcd_on = True
        elif c == LCD_OFF:
            self.lcd_on = False

    def byte(self, k):
        """RAM byte k of the glass map: SEG 2k low nibble, SEG 2k+1 high nibble."""
        return self.ram[2 * k] | self.ram[2 * k + 1] << 4

    def state_line(self):
        return "HT1621 %s %s" % (
            "".join("%x" % n for n in self.ram),
            "on" if self.lcd_on and self.sys_on else "off",
        )


def _art(b, rows):
    # one digit as three rows of ASCII art: ' _ ' / '|_|' / '|_|.'
    rows[0] += " _  " if b & 0x01 else "    "
    rows[1] += ("|" if b & 0x20 else " ") + ("_" if b & 0x40 else " ")
    rows[1] += ("|" if b & 0x02 else " ") + " "
    rows[2] += ("|" if b & 0x10 else " ") + ("_" if b & 0x08 else " ")
    rows[2] += ("|" if b & 0x04 else " ") + ("." if b & 0x80 else " ")


def glass_text(chip):
    """What the glass shows, as text: code digits and main digits in 7-segment art, then the
    lit icons and unit."""
    if not (chip.lcd_on and chip.sys_on):
        return "(display off)"
    rows = ["", "", ""]
    for k in range(CODE_AT, CODE_AT + CODE_DIGITS):
        _art(chip.byte(k), rows)
    for i in range(3):
        rows[i] += "  "
    for k in range(MAIN_AT, MAIN_AT + MAIN_DIGITS):
        _art(chip.byte(k), rows)
    lit = []
    icons = chip.byte(ICONS_AT) | (chip.byte(ICONS_AT + 1) & 3) << 8
    for i in range(len(ICON_NAMES)):
        if icons >> i & 1:
            lit.append(ICON_NAMES[i])
    units = chip.byte(ICONS_AT + 1)
    for code in sorted(UNIT_BITS):
        if units & UNIT_BITS[code]:
            lit.append(UNIT_NAMES[code])
    rows.append("[" + " ".join(lit) + "]")
    return "\n".join(r.rstrip() for r in rows)


class SimSegmentDisplay(Ht1621):
    """interfaces.Display: the HT1621 driver on a simulated chip; `path` gets the state file."""

    def __init__(self, path=None, echo=False):
        self.chip = Ht1621Chip()
        self.path = path
        self.echo = echo  # print each new screen on the terminal
        super().__init__(self.chip.cs, self.chip.wr, self.chip.data)

    def shown(self):
        """What the display shows now, as text for a terminal."""
        return glass_text(self.chip)

    def render(self, frame):
        super().render(frame)
        if self.path:
            with open(self.path, "w") as f:
                f.write(self.chip.state_line() + "\n")
        if self.echo:
            print(self.shown())
