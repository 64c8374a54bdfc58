"""State behind the fake port modules (fakes/stm32/*.py, fakes/esp32/*.py), and the test-side
controls for it. The fake modules themselves expose only names the real ports have; everything
a test needs to look at or steer (register log, flash model, UART bytes, power cuts) is here.

Memory-mapped I/O (stm.mem8/16/32, machine.mem32 on the boards; extmod/machine_mem.c): a read
returns `mp_obj_new_int(uint32 value)`, which on a 32-bit port is the *signed* 32-bit value, so
bit 31 reads negative; a write takes any int truncated to the width. Here every access goes
through BUS: registers keep the last value written (read-back like most configuration
registers), peripheral models (the F4 flash controller) claim their address ranges, and every
write is appended to BUS.log as (addr, value) for the sequence checks.
"""


class PowerCut(Exception):
    """The model lost power in the middle of a flash operation."""


class ModelError(AssertionError):
    """The driver did something the real hardware would punish (bus error, stall, lock-up)."""


def _s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class Bus:
    def __init__(self):
        self.reset()

    def reset(self):
        self.regs = {}
        self.log = []  # (addr, value) per write, (addr, None) per plain-register read
        self.reads = 0
        self.models = []
        self.flash = None
        self.stuck = {}  # addr -> bits that always read as 1 (a peripheral that never stops)
        self.recording = True  # long power-cut runs switch the log off

    def attach(self, model):
        if isinstance(model, F4Flash):
            self.flash = model  # the hot path: every store read goes there
        else:
            self.models.append(model)

    def _model(self, addr):
        f = self.flash
        if f is not None and f.claims(addr):
            return f
        for m in self.models:
            if m.claims(addr):
                return m
        return None

    def read(self, addr, width):
        if addr % width:
            raise ModelError("unaligned %d-byte read at 0x%08x" % (width, addr))
        m = self._model(addr)
        if m is not None:
            v = m.read(addr, width)
        else:
            v = self.regs.get(addr, 0) | self.stuck.get(addr, 0)
            if self.recording:
                self.log.append((addr, None))
        self.reads += 1
        return _s32(v) if width == 4 else v

    def write(self, addr, value, width):
        if addr % width:
            raise ModelError("unaligned %d-byte write at 0x%08x" % (width, addr))
        value &= (1 << (8 * width)) - 1
        if self.recording:
            self.log.append((addr, value))
        m = self._model(addr)
        if m is not None:
            m.write(addr, value, width)
        else:
            self.regs[addr] = value

    def mark(self, what):
        """A port call that is not a register access (pyb.Timer(...)), in the same log."""
        self.log.append((what, None))

    def writes_to(self, lo, hi):
        return [
            (a, v) for a, v in self.log if isinstance(a, int) and lo <= a < hi and v is not None
        ]


BUS = Bus()


class Mem:
    """stm.mem8 / mem16 / mem32 and machine.mem32: index by address."""

    def __init__(self, width):
        self._w = width

    def __getitem__(self, addr):
        f = BUS.flash
        if f is not None and f.quiet() and self._w == 4 and not addr & 3:
            o = addr - BANK2
            if 0 <= o < BANK_SIZE:  # fast path for bank-2 words: same value, no checks due
                BUS.reads += 1
                m = f.mem
                v = m[o] | m[o + 1] << 8 | m[o + 2] << 16 | m[o + 3] << 24
                return v - 0x100000000 if v & 0x80000000 else v
        return BUS.read(addr, self._w)

    def __setitem__(self, addr, value):
        BUS.write(addr, value, self._w)


# --- STM32F42x/43x flash controller and bank 2 (RM0090 rev 19, section 3) ----------------------

FLASH_REGS = 0x40023C00
BANK1 = 0x08000000
BANK2 = 0x08100000
BANK_SIZE = 0x100000
KEY1 = 0x45670123
KEY2 = 0xCDEF89AB
ACR, KEYR, OPTKEYR, SR, CR = 0x00, 0x04, 0x08, 0x0C, 0x10
SR_EOP, SR_OPERR, SR_WRPERR, SR_PGAERR, SR_PGPERR, SR_PGSERR, SR_RDERR = (
    1,
    2,
    1 << 4,
    1 << 5,
    1 << 6,
    1 << 7,
    1 << 8,
)
SR_BSY = 1 << 16
CR_PG, CR_SER, CR_MER, CR_STRT, CR_LOCK = 1, 2, 4, 1 << 16, 1 << 31
ACR_DCEN, ACR_DCRST = 1 << 10, 1 << 12


def bank2_sector(n):
    """(offset in bank 2, size) of sector n, 12..23 (RM0090 table 6)."""
    k = n - 12
    if 0 <= k < 4:
        return k * 0x4000, 0x4000
    if k == 4:
        return 0x10000, 0x10000
    if 5 <= k < 12:
        return 0x20000 + (k - 5) * 0x20000, 0x20000
    raise ValueError(n)


class F4Flash:
    """The F429's flash interface as RM0090 section 3 describes it, bank 2 memory included.

    - FLASH_CR is locked after reset; KEY1 then KEY2 in FLASH_KEYR unlock it; any other write
      to KEYR while locked (or a key while unlocked) is a bus error and keeps CR locked until
      reset (3.5.1): ModelError, and `hard_locked`.
    - CR writes are ignored while locked (except that they cannot unlock), and may not change
      PG/SER/SNB/PSIZE while BSY (a correct driver waits; setting LOCK is harmless): ModelError.
    - STRT with SER erases sector SNB (bank-2 codes 16..27 only: erasing bank 1, where the code
      runs, is a ModelError); SER with PG, or a bad SNB, sets PGSERR instead.
    - A memory write to bank 2 programs only with PG set and unlocked (else PGSERR), only with
      the access width PSIZE says (else PGPERR), aligned (else PGAERR); bits only go 1 -> 0.
    - BSY stays set for `erase_polls` / `prog_polls` SR reads after an operation starts;
      reading or writing bank 2 while BSY would stall the bus: ModelError. After an erase the
      data cache holds old words until reset (DCEN = 0, DCRST = 1): reading the erased sector
      before that is a ModelError (stale data).
    - Power: `budget` counts words programmed and 4 KiB erase chunks still allowed; when it runs
      out the operation stops half done and PowerCut is raised. `reset()` is a power-on: the
      controller locks, BSY clears, memory keeps what was written.
    """

    def __init__(self, erase_polls=3, prog_polls=1):
        # erased flash, filled in chunks: one 1 MiB buffer, not a second 1 MiB temporary
        self.mem = bytearray(BANK_SIZE)
        ff = b"\xff" * 4096
        for i in range(0, BANK_SIZE, 4096):
            self.mem[i : i + 4096] = ff
        self.erase_polls = erase_polls
        self.prog_polls = prog_polls
        self.budget = -1
        self.erases = {}
        self.words = 0
        self.stuck_busy = False
        self.fail_next = 0  # SR error bits the next operation ends with instead of working
        self.reset()

    def reset(self):
        self.acr = ACR_DCEN | 5  # latency 5 WS at 168 MHz, data cache on (MicroPython's set-up)
        self.sr = 0
        self.cr = CR_LOCK
        self.key_stage = 0
        self.hard_locked = False
        self.busy = 0
        self.stale = set()

    def quiet(self):
        """Nothing that a bank-2 read must be checked against: idle, no stale cache lines."""
        return not (self.busy or self.stuck_busy or self.stale)

    def claims(self, addr):
        return FLASH_REGS <= addr < FLASH_REGS + 0x20 or BANK1 <= addr < BANK2 + BANK_SIZE

    # registers
    def read(self, addr, width):
        if BANK2 <= addr < BANK2 + BANK_SIZE:
            return self._read_mem(addr - BANK2, width)
        if BANK1 <= addr < BANK2:
            return 0xFFFFFFFF  # bank 1 content is not modelled
        r = addr - FLASH_REGS
        if r == SR:
            v = self.sr | (SR_BSY if self.busy or self.stuck_busy else 0)
            if self.busy:
                self.busy -= 1
            return v
        if r == CR:
            return self.cr
        if r == ACR:
            return self.acr
        return 0

    def write(self, addr, value, width):
        if BANK1 <= addr < BANK2:
            raise ModelError("write into bank 1 (the running firmware) at 0x%08x" % addr)
        if BANK2 <= addr < BANK2 + BANK_SIZE:
            return self._program(addr - BANK2, value, width)
        r = addr - FLASH_REGS
        if r == KEYR:
            if self.hard_locked or not self.cr & CR_LOCK:
                self.hard_locked = True
                raise ModelError("FLASH_KEYR written while unlocked: bus error, locked")
            want = KEY1 if self.key_stage == 0 else KEY2
            if value != want:
                self.hard_locked = True
                raise ModelError("wrong key sequence: FLASH_CR locked until reset")
            self.key_stage += 1
            if self.key_stage == 2:
                self.cr &= ~CR_LOCK
                self.key_stage = 0
        elif r == SR:
            self.sr &= ~(value & 0x1F3)  # EOP and error flags: write 1 to clear
        elif r == CR:
            if (self.busy or self.stuck_busy) and value != CR_LOCK:
                raise ModelError("FLASH_CR changed while BSY")  # only locking it is harmless
            if self.cr & CR_LOCK:
                return  # locked: ignored
            self.cr = value
            if value & CR_STRT:
                self._start(value)
                self.cr &= ~CR_STRT
        elif r == ACR:
            if value & ACR_DCRST and not value & ACR_DCEN:
                self.stale.clear()  # the reset only works with the cache disabled (3.5.2)
            self.acr = value & ~ACR_DCRST

    def _read_mem(self, off, width):
        if self.busy or self.stuck_busy:
            raise ModelError("bank 2 read while BSY: the bus would stall")
        if self.stale:
            for n in self.stale:
                o, size = bank2_sector(n)
                if o <= off < o + size:
                    raise ModelError("sector %d read after erase, data cache not reset" % n)
        m = self.mem
        if width == 4:
            return m[off] | m[off + 1] << 8 | m[off + 2] << 16 | m[off + 3] << 24
        return m[off] | (m[off + 1] << 8 if width == 2 else 0)

    def _psize_bytes(self):
        return 1 << ((self.cr >> 8) & 3)

    def _start(self, cr):
        snb = (cr >> 3) & 0x1F
        if cr & CR_MER or not cr & CR_SER or cr & CR_PG:
            self.sr |= SR_PGSERR
            return
        if snb < 12:
            raise ModelError("erase of bank-1 sector %d (the running firmware)" % snb)
        if not 16 <= snb <= 27:
            self.sr |= SR_PGSERR  # codes 12..15 are not allowed (3.9.7)
            return
        n = snb - 4
        off, size = bank2_sector(n)
        self.busy = self.erase_polls
        if self.fail_next:
            self.sr |= self.fail_next
            self.fail_next = 0
            return
        for p in range(off, off + size, 4096):  # an erase torn by a power cut is partial
            self._spend()
            self.mem[p : p + 4096] = b"\xff" * 4096
        self.erases[n] = self.erases.get(n, 0) + 1
        if self.acr & ACR_DCEN:
            self.stale.add(n)

    def _program(self, off, value, width):
        if self.busy or self.stuck_busy:
            raise ModelError("flash written while BSY (bus stall)")
        if self.cr & CR_LOCK or not self.cr & CR_PG or self.cr & (CR_SER | CR_MER):
            self.sr |= SR_PGSERR
            return
        if width != self._psize_bytes():
            self.sr |= SR_PGPERR
            return
        if off % width:
            self.sr |= SR_PGAERR
            return
        if self.fail_next:
            self.sr |= self.fail_next
            self.fail_next = 0
            return
        self._spend()
        for i in range(width):
            self.mem[off + i] &= (value >> (8 * i)) & 0xFF
        self.words += 1
        self.busy = self.prog_polls

    def _spend(self):
        if self.budget == 0:
            raise PowerCut()
        if self.budget > 0:
            self.budget -= 1


# --- the rest of a board, as plain recorded state ----------------------------------------------


class State:
    """Per-board fake state the tests look at: pins, UART traffic, RTC, WDT, partitions."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.pins = {}  # id -> Pin
        self.uarts = {}  # id -> UART
        self.i2c_writes = []
        self.rtc = [2000, 1, 1, 0, 0, 0, 0, 0]
        self.rtc_weekday_range = (0, 6)
        self.wdts = []
        self.irq_disabled = 0
        self.freq = None
        self.timers = {}
        self.partitions = []  # esp32: (type, subtype, label, size)
        self.flash = None  # stm32: the F4Flash model attached to BUS
        BUS.reset()


STATE = State()


def board_stm32():
    """Power-on state of a Nucleo-F429ZI: an erased bank 2, the stm32 RTC weekday range."""
    STATE.reset()
    STATE.rtc = [2015, 1, 1, 4, 0, 0, 0, 0]  # stm32 rtc.c: RTC starts 2015-01-01, Thursday (4)
    STATE.rtc_weekday_range = (1, 7)
    STATE.flash = F4Flash()
    BUS.attach(STATE.flash)
    for usart in (0x40011000, 0x40004400, 0x40004800, 0x40011400):  # USART1/2/3/6
        BUS.regs[usart] = 0xC0  # USART_SR reset value: TXE and TC set (RM0090 30.6.1)
    return STATE


def board_esp32(store_label="mmstore", store_size=0x10000):
    """An ESP32 whose partition table has the store's raw data partition."""
    STATE.reset()
    STATE.partitions.append((1, 0x06, store_label, store_size))  # data, undefined
    for slot in ("mmslot1", "mmslot2"):  # software download slots (docs/download.md §3)
        STATE.partitions.append((1, 0x06, slot, 0x8000))  # small: the fake keeps it in RAM
    STATE.partitions.append((1, 0x81, "vfs", 0x40000))
    return STATE
