"""SPI NOR flash (Winbond W25Q32JV and its family) as a NOR block device (interfaces.BlockDevice)
over a region of its 4 KiB sectors: the Nucleo's profile flash (boards/nucleo_f429zi.py,
docs/boards.md, docs/profiles.md §4).

Commands (W25Q32JV datasheet rev F, 2017, section 8; standard SPI, mode 0, MSB first, 24-bit
big-endian addresses):
- 0x9F read JEDEC ID: manufacturer 0xEF, memory type 0x40, capacity 0x16 (2^22 = 4 MiB).
  Checked at construction: a missing chip (MISO reads 0xFF or 0x00) or another part raises
  OSError there, at boot, instead of the rings reading garbage.
- 0x05 read status register 1: bit 0 BUSY/WIP, bit 1 WEL, bits 2-6 block protection (BP0-2,
  TB, SEC; 0 from the factory). While BUSY the chip ignores every command but the status
  reads, so each command here first waits for BUSY = 0. Protection bits set at construction
  are an OSError: the chip would ignore programs and erases of the protected range.
- 0x06 write enable (WEL = 1), needed before each program and each erase; the chip clears WEL
  when the operation ends. WEL is read back: a chip that refuses it (write-protected, absent)
  is an OSError(EIO), not a program that silently did nothing.
- 0x20 sector erase, 4 KiB at the address (tSE typ 45 ms, max 400 ms).
- 0x02 page program, 1..256 bytes into one 256-byte page (tPP typ 0.4 ms, max 3 ms). Bytes
  past the end of the page wrap to its start, so a span is split at every page boundary.
  Program only clears bits (the new byte is old AND data): NOR semantics as the store wants.
- 0x03 read data, any length from any address (up to 50 MHz).
Endurance: 100 000 erase/program cycles per sector, 20-year retention.

An erase is started and not waited for: the next command waits for BUSY = 0 (at most
ERASE_TIMEOUT_MS), so closing a ring block does not stall the loop for 45 ms unless the ring is
used again at once; sync (ioctl 3) waits too. A page program is waited for by the next command
the same way (PROG_TIMEOUT_MS). A chip still busy after that raises OSError(ETIMEDOUT).

The SPI object only needs write() and readinto() (machine.SPI on the stm32 port,
ports/stm32/machine_spi.c through extmod/machine_spi.c); chip select is a machine.Pin output,
driven low around each command. The 4-byte command/address buffer and the status buffer are
allocated once.
"""

import time

from micropython import const

SECTOR = const(4096)  # erase unit = block size
PAGE = const(256)  # program unit
JEDEC_W25Q32JV = b"\xef\x40\x16"
ERASE_TIMEOUT_MS = const(800)  # 2x tSE max
PROG_TIMEOUT_MS = const(10)  # > 3x tPP max

_READ = const(0x03)
_PROGRAM = const(0x02)
_ERASE4K = const(0x20)
_WREN = const(0x06)
_RDSR = const(0x05)
_JEDEC = const(0x9F)
_WIP = const(0x01)
_WEL = const(0x02)
_PROTECT = const(0x7C)  # BP0-BP2, TB, SEC: a protected range ignores programs and erases

_EIO = const(5)
_EINVAL = const(22)
_ETIMEDOUT = const(110)


class SpiNor:
    def __init__(self, spi, cs, first, count, jedec=JEDEC_W25Q32JV, ticks_ms=None):
        self._spi = spi
        self._cs = cs
        self._ticks = ticks_ms or time.ticks_ms
        self._cmd = bytearray(4)  # command and 24-bit address
        self._op = memoryview(self._cmd)[:1]  # the command alone
        self._sr = bytearray(1)
        self._wait_ms = 0  # what the last started operation may take; 0: nothing running
        cs.value(1)
        # a reset during an erase or program leaves the chip busy, and a busy chip ignores 0x9F
        self._wait_ms = ERASE_TIMEOUT_MS
        try:
            self._settle()
        except OSError:
            self._wait_ms = 0  # no chip: MISO high reads as "busy"; the ID says what is wrong
        idb = self._read_id()
        if idb != bytes(jedec):
            raise OSError(
                "SPI NOR: JEDEC ID %02x%02x%02x, expected %02x%02x%02x (chip missing or another "
                "part: docs/boards.md)" % (tuple(idb) + tuple(jedec))
            )
        sr = self._status()
        if sr & _PROTECT:
            raise OSError("SPI NOR: block protection set (status register 1 = %02x)" % sr)
        sectors = (1 << jedec[2]) // SECTOR
        if first < 0 or count < 2 or first + count > sectors:
            raise ValueError("SPI NOR region %d+%d outside %d sectors" % (first, count, sectors))
        self._base = first * SECTOR
        self._n = count
        self.erases = 0
        self.pages = 0

    # --- chip -------------------------------------------------------------------------------

    def _select(self, op, addr=-1):
        # CS low, then the command, with its 3 address bytes unless addr < 0
        c = self._cmd
        c[0] = op
        if addr >= 0:
            c[1] = addr >> 16
            c[2] = (addr >> 8) & 0xFF
            c[3] = addr & 0xFF
        self._cs.value(1)  # a transfer that raised left /CS low: end that command first
        self._cs.value(0)
        self._spi.write(c if addr >= 0 else self._op)

    def _read_id(self):
        idb = bytearray(3)
        self._select(_JEDEC)
        self._spi.readinto(idb)
        self._cs.value(1)
        return bytes(idb)

    def _status(self):
        self._select(_RDSR)
        self._spi.readinto(self._sr)
        self._cs.value(1)
        return self._sr[0]

    def _settle(self):
        """Wait for the operation started last (erase, program) to end; every command starts
        here, since a busy chip ignores them."""
        if not self._wait_ms:
            return
        t0 = self._ticks()
        while self._status() & _WIP:
            if time.ticks_diff(self._ticks(), t0) > self._wait_ms:
                raise OSError(_ETIMEDOUT)
        self._wait_ms = 0

    def _write_enable(self):
        self._settle()
        self._select(_WREN)
        self._cs.value(1)
        if not self._status() & _WEL:
            raise OSError(_EIO)

    def _erase(self, block):
        self._write_enable()
        self._select(_ERASE4K, self._base + block * SECTOR)
        self._cs.value(1)
        self._wait_ms = ERASE_TIMEOUT_MS
        self.erases += 1

    def _program(self, addr, buf):
        n = len(buf)
        mv = None
        i = 0
        while i < n:
            k = min(n - i, PAGE - (addr & (PAGE - 1)))  # never across a page end
            self._write_enable()
            self._select(_PROGRAM, addr)
            if k == n:
                self._spi.write(buf)  # inside one page (a ring slot): no slice allocated
            else:
                if mv is None:
                    mv = memoryview(buf)
                self._spi.write(mv[i : i + k])
            self._cs.value(1)
            self._wait_ms = PROG_TIMEOUT_MS
            self.pages += 1
            i += k
            addr += k

    # --- extended block protocol ------------------------------------------------------------

    def readblocks(self, block, buf, offset=0):
        n = len(buf)
        if block < 0 or offset < 0 or block * SECTOR + offset + n > self._n * SECTOR:
            raise OSError(_EINVAL)
        self._settle()
        self._select(_READ, self._base + block * SECTOR + offset)
        self._spi.readinto(buf)
        self._cs.value(1)

    def writeblocks(self, block, buf, offset=None):
        n = len(buf)
        if offset is None:  # basic protocol: whole blocks, erase then program
            if n % SECTOR or block < 0 or block + n // SECTOR > self._n:
                raise OSError(_EINVAL)
            mv = memoryview(buf)
            for i in range(n // SECTOR):
                self._erase(block + i)
                self._program(self._base + (block + i) * SECTOR, mv[i * SECTOR : (i + 1) * SECTOR])
            return
        if block < 0 or block >= self._n or offset < 0 or offset + n > SECTOR:
            raise OSError(_EINVAL)
        self._program(self._base + block * SECTOR + offset, buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self._n
        if op == 5:  # block size = erase unit
            return SECTOR
        if op == 6:  # erase one block
            if not 0 <= arg < self._n:
                raise OSError(_EINVAL)
            self._erase(arg)
            return 0
        if op in (2, 3):  # deinit, sync: the last operation finished
            self._settle()
            return 0
        if op == 1:  # init
            return 0
        return None
