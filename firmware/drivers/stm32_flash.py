"""STM32F42x/43x store flash: a NOR block device (interfaces.BlockDevice) over 128 KiB sectors of
the unused second 1 MiB flash bank, erased and programmed through the flash controller.

Why not pyb.Flash (MicroPython 1c3c201): `pyb.Flash(start=, len=)` only covers the internal
filesystem area (ports/stm32/storage.c pyb_flash_new_obj: start + len <= the storage size, else
ValueError), which on the F429 is sectors 1-4, 112 KiB (boards/stm32f429.ld FLASH_FS). Its
blocks are 512 bytes, its erase ioctl does nothing without a littlefs build (storage.c
pyb_flash_ioctl, MP_BLOCKDEV_IOCTL_BLOCK_ERASE needs MICROPY_HW_BDEV_ERASEBLOCKS_EXT), and its
writes go through a RAM sector cache that erases and rewrites a whole 16-128 KiB sector later,
from an interrupt (ports/stm32/flashbdev.c flash_bdev_irq_handler): a power cut then loses
records the store believed durable, and tears neighbours it never touched. Bank 2
(0x08100000-0x081FFFFF, RM0090 table 6, sectors 12-23) is outside MicroPython's linker
script (stm32f429.ld: FLASH_TEXT ends at sector 11), so the store gets sectors of its own.

Layout: one block = 128 KiB: one of the sectors 17-23 (at 0x08120000 + 128 KiB * (n-17)), or
LOW_GROUP, the five small sectors at the bottom of bank 2 (12-15: 16 KiB each from 0x08100000,
16: 64 KiB at 0x08110000), which lie end to end and make one more 128 KiB block, erased sector
by sector. Which sectors is the board's choice (boards/nucleo_f429zi.py STORE_SECTORS,
SLOT_SECTORS; docs/boards.md, docs/download.md §3).

Flash controller use (RM0090 rev 19, section 3; FLASH base 0x40023C00):
- unlock: KEY1 0x45670123 then KEY2 0xCDEF89AB into FLASH_KEYR while CR.LOCK = 1 (3.5.1; a
  wrong sequence locks the controller until reset); CR.LOCK = 1 again after each operation.
- PSIZE = x32 (CR[9:8] = 10, 3.5.2: 2.7-3.6 V supply; the Nucleo runs at 3.3 V).
- sector erase (3.6.3): wait BSY = 0, CR = SER | SNB | PSIZE, then STRT, wait BSY = 0. In
  bank 2, sector n (12-23) has SNB code n + 4 (FLASH_CR SNB[4:0], 3.9.7: 0b10000 = sector 12).
- program (3.6.4): wait BSY = 0, CR = PG | PSIZE, one 32-bit write to the aligned address,
  wait BSY = 0. Bits only go 1 -> 0 (3.6.4 note: "successive write operations are possible
  without the need of an erase operation when changing bits from 1 to 0"); words of data that
  clear nothing are skipped.
- errors: SR OPERR/WRPERR/PGAERR/PGPERR/PGSERR/RDERR are checked after each operation and
  cleared by writing 1 (3.9.6); any of them raises OSError(EIO).
- data cache: after an erase the cache may hold the sector's old words, so it is reset
  (ACR.DCEN = 0, DCRST = 1, DCRST = 0, DCEN = 1; 3.5.2/3.9.1, as the HAL does after an erase).
- code keeps running: dual-bank read-while-write (3.4); an erase of bank 2 does not stall
  instruction fetches from bank 1. Reading bank 2 while it is busy would stall the bus, so every
  read first waits for BSY = 0.
- reads go through stm.mem32 too (one aligned word per access, bytes picked out), the same
  object the register accesses use, so the host model sees every access (uctypes.bytearray_at
  would be faster but cannot be substituted on the unix port, whose uctypes is built in).
- MicroPython's own filesystem cache also drives the controller, from an interrupt
  (flashbdev.c). So each register sequence runs with IRQs disabled (machine.disable_irq), and
  the erase waits for BSY with IRQs enabled; the controller is unlocked afresh per operation.

Timeouts (datasheet DS9405 table "Flash memory programming": 128 KiB sector erase x32 typ 1 s,
max 2 s; 64 KiB typ 550 ms, max 1.1 s; 16 KiB typ 250 ms, max 500 ms; word program typ 16 us,
max 100 us): an erase waits at most ERASE_TIMEOUT_MS, a word
program at most _PROG_POLLS status reads (IRQs are off then, so no tick counts); either raises
OSError(ETIMEDOUT). ioctl(6) only starts an erase (errors flagged at the start are raised at
once); the next access to the bank waits for the end (about 1 s), checks it, locks and resets
the data cache, and sync (ioctl 3) does the same. So the erase that closes a compaction (once
per ~4000 32-byte records with these blocks) stalls the loop only if the store is used again
within that second; an erase the store needs before writing (an unclean target) is waited
for by that write.
"""

import time
from struct import pack_into

from micropython import const

try:
    import machine
    import stm
except ImportError:  # unix port: importable; tests inject the model's registers and memory
    stm = None

_FLASH = const(0x40023C00)
_ACR = const(0x00)
_KEYR = const(0x04)
_SR = const(0x0C)
_CR = const(0x10)
_KEY1 = 0x45670123
_KEY2 = 0xCDEF89AB

_SR_OPERR = const(1 << 1)
_SR_WRPERR = const(1 << 4)
_SR_PGAERR = const(1 << 5)
_SR_PGPERR = const(1 << 6)
_SR_PGSERR = const(1 << 7)
_SR_RDERR = const(1 << 8)
_SR_BSY = const(1 << 16)
_SR_ERRORS = const(0x1F2)  # OPERR | WRPERR | PGAERR | PGPERR | PGSERR | RDERR

_CR_PG = const(1 << 0)
_CR_SER = const(1 << 1)
_CR_SNB_SHIFT = const(3)
_CR_PSIZE_X32 = const(2 << 8)
_CR_STRT = const(1 << 16)
_CR_LOCK = 1 << 31  # bit 31: a long int on 32-bit ports, so not a const()

_ACR_DCEN = const(1 << 10)
_ACR_DCRST = const(1 << 12)

BANK2 = const(0x08100000)
SECTOR_SIZE = const(0x20000)  # the block size: one 128 KiB sector, or LOW_GROUP
FIRST_128K = const(17)  # sectors 17..23 are the 128 KiB sectors of bank 2
LOW_GROUP = (12, 13, 14, 15, 16)  # 4 x 16 KiB + 64 KiB from 0x08100000: one 128 KiB block
ERASE_TIMEOUT_MS = const(4000)  # 2x the datasheet maximum
_PROG_POLLS = const(20000)  # >= 20 ms of status reads at <= 1 us each; max program is 100 us

_EIO = const(5)
_EINVAL = const(22)
_ETIMEDOUT = const(110)


def sector_address(n):
    """Start address of bank-2 sector n (12..23)."""
    if n < 16:
        return BANK2 + (n - 12) * 0x4000
    if n == 16:
        return BANK2 + 0x10000
    return BANK2 + 0x20000 + (n - FIRST_128K) * SECTOR_SIZE


def snb_code(n):
    """FLASH_CR SNB value of sector n (bank 2 sectors 12..23 are coded 16..27)."""
    return n + 4 if n >= 12 else n


class Stm32Bank2Flash:
    # typical erase of a 128 KiB block (DS9405: 1 s): the software download task waits this
    # long on the loop after each ioctl(6) (dl.feature.erase_step), so the next erase finds the
    # controller idle instead of stalling the loop until BSY = 0 (docs/download.md §3)
    erase_ms = 1000

    def __init__(self, sectors, mem32=None, irq=None, ticks_ms=None):
        if stm is None and mem32 is None:
            raise OSError("Stm32Bank2Flash needs the stm32 port")
        if len(sectors) < 2:
            raise ValueError("the store needs >= 2 sectors")
        for n in sectors:
            if n != LOW_GROUP and not (isinstance(n, int) and FIRST_128K <= n <= 23):
                raise ValueError("%r is not a 128 KiB bank-2 block (17..23 or LOW_GROUP)" % (n,))
        self._sectors = tuple(sectors)
        # each block's first sector: its address; LOW_GROUP's five sectors follow each other
        self._addr = tuple(sector_address(n if isinstance(n, int) else n[0]) for n in sectors)
        self._m = mem32 if mem32 is not None else stm.mem32
        if irq is None:
            irq = (machine.disable_irq, machine.enable_irq)
        self._irq_off, self._irq_on = irq
        self._ticks = ticks_ms or time.ticks_ms
        self._erasing = False
        self.erases = 0
        self.words = 0
        self.errors = 0

    # --- controller ----------------------------------------------------------------------------

    def _unlock(self):
        m = self._m
        if m[_FLASH + _CR] & _CR_LOCK:
            m[_FLASH + _KEYR] = _KEY1
            m[_FLASH + _KEYR] = _KEY2

    def _lock(self):
        m = self._m
        m[_FLASH + _CR] = _CR_LOCK

    def _fail(self, code):
        self.errors += 1
        self._lock()
        raise OSError(code)

    def _check(self):
        m = self._m
        sr = m[_FLASH + _SR]
        if sr & _SR_ERRORS:
            m[_FLASH + _SR] = sr & _SR_ERRORS  # write 1 to clear
            self._fail(_EIO)

    def _wait_idle_ms(self, timeout_ms):
        m = self._m
        t0 = self._ticks()
        while m[_FLASH + _SR] & _SR_BSY:
            if time.ticks_diff(self._ticks(), t0) > timeout_ms:
                self._fail(_ETIMEDOUT)

    def _settle(self):
        """Wait for the controller to be idle; finish an erase still running (its errors, the
        lock, the data-cache reset). Every access to bank 2 starts here."""
        self._wait_idle_ms(ERASE_TIMEOUT_MS)
        if self._erasing:
            self._erasing = False
            self._check()
            self._lock()
            self._reset_dcache()

    def _erase_sector(self, n):
        # Starts the erase and returns: the ~1 s it takes is waited out by the next access to
        # the bank (_settle), not here, so a compaction's closing erase of the old block does
        # not stall the loop unless the store is used again within that second. Errors the
        # controller flags at the start (write protection, sequence) are raised now.
        m = self._m
        self._settle()
        s = self._irq_off()
        try:
            self._unlock()
            m[_FLASH + _SR] = _SR_ERRORS  # stale flags from someone else's operation
            m[_FLASH + _CR] = _CR_PSIZE_X32 | _CR_SER | (snb_code(n) << _CR_SNB_SHIFT)
            m[_FLASH + _CR] = _CR_PSIZE_X32 | _CR_SER | (snb_code(n) << _CR_SNB_SHIFT) | _CR_STRT
            self._erasing = True
            if m[_FLASH + _SR] & _SR_ERRORS:
                self._erasing = False
                self._check()
        finally:
            self._irq_on(s)
        self.erases += 1

    def _erase_block(self, i):
        # LOW_GROUP: each sector's erase waits for the one before (_settle), the last one runs on
        n = self._sectors[i]
        for k in (n,) if isinstance(n, int) else n:
            self._erase_sector(k)

    def _reset_dcache(self):
        m = self._m
        acr = m[_FLASH + _ACR]
        if acr & _ACR_DCEN:
            m[_FLASH + _ACR] = acr & ~_ACR_DCEN
            m[_FLASH + _ACR] = (acr & ~_ACR_DCEN) | _ACR_DCRST
            m[_FLASH + _ACR] = acr & ~_ACR_DCEN
            m[_FLASH + _ACR] = acr

    def _program(self, addr, data):
        # data: bytes-like, len % 4 == 0, addr % 4 == 0
        m = self._m
        self._settle()
        n = len(data)
        i = 0
        while i < n:
            w = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
            if w != 0xFFFFFFFF:
                s = self._irq_off()
                try:
                    self._unlock()
                    m[_FLASH + _CR] = _CR_PSIZE_X32 | _CR_PG
                    m[addr + i] = w
                    polls = _PROG_POLLS
                    while m[_FLASH + _SR] & _SR_BSY:
                        polls -= 1
                        if polls == 0:
                            self._fail(_ETIMEDOUT)
                    self._check()
                    m[_FLASH + _CR] = _CR_LOCK
                finally:
                    self._irq_on(s)
                self.words += 1
            i += 4

    # --- extended block protocol ----------------------------------------------------------------

    def readblocks(self, block, buf, offset=0):
        n = len(buf)
        nb = len(self._sectors)
        if block < 0 or offset < 0 or block * SECTOR_SIZE + offset + n > nb * SECTOR_SIZE:
            raise OSError(_EINVAL)
        self._settle()  # a read of a busy bank would stall the bus
        block += offset // SECTOR_SIZE
        offset %= SECTOR_SIZE
        m = self._m
        i = 0
        while i < n:
            k = min(n - i, SECTOR_SIZE - offset)
            a = self._addr[block] + offset
            e = i + k
            while i < e:
                if a & 3 == 0 and e - i >= 4:  # whole aligned words: one read, one store
                    pack_into("<i", buf, i, m[a])  # mem32 reads are signed 32-bit values
                    i += 4
                    a += 4
                else:
                    buf[i] = (m[a & ~3] >> ((a & 3) * 8)) & 0xFF
                    i += 1
                    a += 1
            block += 1
            offset = 0

    def writeblocks(self, block, buf, offset=None):
        n = len(buf)
        if offset is None:  # basic protocol: whole blocks, erase then program
            if n % SECTOR_SIZE or block < 0 or block + n // SECTOR_SIZE > len(self._sectors):
                raise OSError(_EINVAL)
            mv = memoryview(buf)
            for i in range(n // SECTOR_SIZE):
                self._erase_block(block + i)
                chunk = mv[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE]
                self._program(self._addr[block + i], chunk)
            return
        if block < 0 or block >= len(self._sectors) or offset < 0 or offset + n > SECTOR_SIZE:
            raise OSError(_EINVAL)
        if offset & 3 or n & 3:
            raise OSError(_EINVAL)  # 32-bit program parallelism: word-aligned spans only
        self._program(self._addr[block] + offset, buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return len(self._sectors)
        if op == 5:  # block size = erase unit
            return SECTOR_SIZE
        if op == 6:  # erase one block
            if not 0 <= arg < len(self._sectors):
                raise OSError(_EINVAL)
            self._erase_block(arg)
            return 0
        if op in (2, 3):  # deinit, sync: the last erase finished and checked
            self._settle()
            return 0
        if op == 1:  # init
            return 0
        return None
