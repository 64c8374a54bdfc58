"""One screen of the meter display, independent of the glass (docs/display.md §1).

The display manager fills a Frame; each display driver (interfaces.Display.render) draws it
its own way: the HT1621 segment glass as 7-segment digits and icon segments, the SSD1306 dot
matrix as text. Fields are preallocated and rewritten in place, so a refresh allocates nothing.

  code   OBIS-style label, ASCII ('1.8.0', 'C.3.10'); '.' joins the digit before it
  value  value or message text, ASCII ('0000123.4', 'OPEN'), up to VALUE_MAX characters
  unit   one of the U_* codes
  icons  ICON_* bits (a blinking icon is switched on and off by the manager, not the driver)
  left   True: the value is text, aligned left; False: a number, aligned right
"""

from micropython import const

CODE_MAX = const(8)
VALUE_MAX = const(16)

U_NONE = const(0)
U_KWH = const(1)
U_KW = const(2)
U_V = const(3)
U_A = const(4)
U_KVARH = const(5)
U_HZ = const(6)
UNIT_NAMES = ("", "kWh", "kW", "V", "A", "kvarh", "Hz")

ICON_T1 = const(0x001)  # tariff in force: T1 << (tariff - 1)
ICON_T2 = const(0x002)
ICON_T3 = const(0x004)
ICON_T4 = const(0x008)
ICON_IMPORT = const(0x010)  # energy flows from the grid (arrow ->)
ICON_EXPORT = const(0x020)  # energy flows to the grid (arrow <-)
ICON_RELAY_OPEN = const(0x040)  # the cut-off relay is open
ICON_ARMED = const(0x080)  # reconnection enabled: press the button (blinks)
ICON_COMM = const(0x100)  # a remote or local exchange in the last seconds
ICON_ALARM = const(0x200)  # an error indication is pending (F.F screen)
ICON_NAMES = ("T1", "T2", "T3", "T4", "->", "<-", "OPEN", "ARMED", "COM", "ALARM")


class Frame:
    def __init__(self):
        self.code = bytearray(CODE_MAX)
        self.code_n = 0
        self.value = bytearray(VALUE_MAX)
        self.value_n = 0
        self.unit = U_NONE
        self.icons = 0
        self.left = False

    def clear(self):
        self.code_n = 0
        self.value_n = 0
        self.unit = U_NONE
        self.icons = 0
        self.left = False

    def set_code(self, text, n=CODE_MAX):
        n = min(len(text), n, CODE_MAX)
        for i in range(n):
            self.code[i] = text[i]
        self.code_n = n

    def set_value(self, text, start=0, n=VALUE_MAX):
        """value = text[start:start + n] (clipped to VALUE_MAX), without slicing text."""
        n = max(0, min(n, len(text) - start, VALUE_MAX))
        for i in range(n):
            self.value[i] = text[start + i]
        self.value_n = n

    def equals(self, o):
        if (
            self.code_n != o.code_n
            or self.value_n != o.value_n
            or self.unit != o.unit
            or self.icons != o.icons
            or self.left != o.left
        ):
            return False
        for i in range(self.code_n):
            if self.code[i] != o.code[i]:
                return False
        for i in range(self.value_n):
            if self.value[i] != o.value[i]:
                return False
        return True

    def copy_from(self, o):
        self.code[:] = o.code
        self.code_n = o.code_n
        self.value[:] = o.value
        self.value_n = o.value_n
        self.unit = o.unit
        self.icons = o.icons
        self.left = o.left

    def text(self):
        """One line for a terminal or a log (allocates: not for the refresh path)."""
        names = []
        for i in range(len(ICON_NAMES)):
            if self.icons >> i & 1:
                names.append(ICON_NAMES[i])
        v = bytes(self.value[: self.value_n]).decode()
        return "%-6s|%s|%-5s|%s" % (
            bytes(self.code[: self.code_n]).decode(),
            ("%-16s" if self.left else "%16s") % v,
            UNIT_NAMES[self.unit],
            " ".join(names),
        )
