"""A Winbond W25Q32JV SPI NOR flash at its command level (datasheet rev F, section 8), behind
the fake stm32 machine.SPI (fakes/stm32/machine.py) and a chip-select machine.Pin.

What the chip does and the model does too: a command is the bytes clocked in while /CS is low;
0x9F answers the JEDEC ID, 0x05 streams status register 1 (BUSY bit 0, WEL bit 1) for as long as
/CS stays low; 0x06 sets WEL when /CS rises; 0x03 + 24-bit address streams the memory from there
(wrapping at the end of the chip); 0x02 + address + data programs at /CS rising, old AND new,
inside one 256-byte page (data past the page end wraps to its start; WEL needed, then cleared);
0x20 + address erases the 4 KiB sector to FF (WEL needed, then cleared). Program and erase then
keep BUSY set for `program_polls` / `erase_polls` status bytes; `stuck` keeps it set forever;
`fail_in` makes a transfer raise as the port does when its SPI times out.
A busy chip ignores everything but 0x05 (counted in `ignored_busy`); a program or erase without
WEL is ignored too (`ignored_wel`). Memory is sparse (4 KiB sectors on first write)."""

from fakes.fakehw import ModelError

SECTOR = 4096
PAGE = 256
WEL = 0x02


class W25Q:
    def __init__(self, jedec=b"\xef\x40\x16", erase_polls=3, program_polls=1):
        self.jedec = bytes(jedec)
        self.size = 1 << 22  # the W25Q32JV's 4 MiB whatever ID it is made to answer
        self.sectors = {}  # sector number -> bytearray(4096); absent = erased
        self.erase_polls = erase_polls
        self.program_polls = program_polls
        self.busy = 0
        self.stuck = False
        self.fail_in = 0  # n > 0: the n-th transfer from now raises OSError, as a bus time-out
        self.wel = 0
        self.protect = 0  # status register 1 bits 2-6 (BP0-2, TB, SEC); not enforced here
        self.selected = False
        self.rx = bytearray()
        self.erases = []  # sector numbers, in order
        self.programs = 0
        self.ignored_busy = 0
        self.ignored_wel = 0

    # --- pins ------------------------------------------------------------------------------------

    def cs(self, level):
        """The /CS pin's edge hook (fakehw.STATE.pin_hooks)."""
        if not level:
            self.selected = True
            self.rx = bytearray()
        elif self.selected:
            self.selected = False
            self._end()

    def transfer(self, out):
        """Bytes the master clocks out -> the bytes the chip drives on DO meanwhile."""
        if not self.selected:
            raise ModelError("SPI transfer with the NOR's /CS high")
        if self.fail_in:
            self.fail_in -= 1
            if not self.fail_in:  # the port's HAL time-out (ports/stm32/spi.c spi_transfer)
                raise OSError(110)
        return bytes(self._byte(b) for b in out)

    # --- chip ------------------------------------------------------------------------------------

    def _is_busy(self):
        return self.stuck or self.busy > 0

    def _byte(self, b):
        rx = self.rx
        rx.append(b)
        k = len(rx) - 1
        op = rx[0]
        if k == 0:
            if self._is_busy() and op != 0x05:
                self.ignored_busy += 1
            return 0xFF
        if op == 0x05:
            v = self.protect | self.wel | (1 if self._is_busy() else 0)
            if self.busy:
                self.busy -= 1
            return v
        if self._is_busy():
            return 0xFF  # DO stays high-Z: reads as the pull-up
        if op == 0x9F and k <= 3:
            return self.jedec[k - 1]
        if op == 0x03 and k >= 4:
            return self.byte_at((self._addr() + k - 4) % self.size)
        return 0xFF

    def _addr(self):
        rx = self.rx
        return rx[1] << 16 | rx[2] << 8 | rx[3]

    def _end(self):
        rx = self.rx
        if not rx or (self._is_busy() and rx[0] != 0x05):
            return
        op = rx[0]
        if op == 0x06 and len(rx) == 1:
            self.wel = WEL
        elif op == 0x04 and len(rx) == 1:
            self.wel = 0
        elif op in (0x02, 0x20) and len(rx) >= 4:
            if not self.wel:
                self.ignored_wel += 1
                return
            a = self._addr() % self.size
            if op == 0x20 and len(rx) == 4:
                self.erase_sector(a // SECTOR)
                self.busy = self.erase_polls
            elif op == 0x02 and len(rx) > 4:
                self._program(a, rx[4:])
                self.busy = self.program_polls
            self.wel = 0

    def _program(self, a, data):
        page = a - a % PAGE
        col = a % PAGE
        latch = bytearray(b"\xff" * PAGE)  # the page buffer: later bytes overwrite wrapped ones
        for i, d in enumerate(data):
            latch[(col + i) % PAGE] = d
        s = self._sector(page // SECTOR, True)
        o = page % SECTOR
        for i in range(PAGE):
            s[o + i] &= latch[i]
        self.programs += 1

    # --- test side -------------------------------------------------------------------------------

    def _sector(self, n, create=False):
        s = self.sectors.get(n)
        if s is None and create:
            s = self.sectors[n] = bytearray(b"\xff" * SECTOR)
        return s

    def erase_sector(self, n):
        self.sectors.pop(n, None)
        self.erases.append(n)

    def byte_at(self, a):
        s = self.sectors.get(a // SECTOR)
        return 0xFF if s is None else s[a % SECTOR]

    def read(self, a, n):
        return bytes(self.byte_at(a + i) for i in range(n))
