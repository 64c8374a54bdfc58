"""unix_sim NOR flash: a file-backed block device with MicroPython's extended block protocol.

Same calls as esp32.Partition and drivers.stm32_flash.Stm32Bank2Flash (interfaces.BlockDevice):
  readblocks(block, buf, offset=0), writeblocks(block, buf, offset=None), ioctl(op, arg)
with ioctl 4 = block count, 5 = block size, 6 = erase block.

NOR semantics: erase sets a whole block to 0xFF; programming (writeblocks with an offset) can
only clear bits (new = old & data) and must stay inside one block. writeblocks without an offset
is the basic protocol: erase each whole block, then program it.

Power-loss realism: every program goes to the file `chunk` bytes per os-level write (default 4),
and an erase `erase_chunk` bytes at a time, so a SIGKILL can tear a record or an erase. The unix
port's files are unbuffered: each write() is in the kernel once it returns and survives SIGKILL
of the process. `sync=True` also flushes after each chunk, which on the unix port is an fsync
(~ms each): only needed to survive a host crash, far too slow for the kill test.
`program_unit` (e.g. 8 for STM32L4 double-words) makes the driver refuse misaligned programs and
reprogramming a unit that is not erased, like flash with ECC words does.
Erases per block are counted in memory (`erase_counts`) for wear statistics.
"""

_IOCTL_INIT = 1
_IOCTL_DEINIT = 2
_IOCTL_SYNC = 3
_IOCTL_BLOCK_COUNT = 4
_IOCTL_BLOCK_SIZE = 5
_IOCTL_BLOCK_ERASE = 6

_EINVAL = 22


class SimFlash:
    def __init__(
        self,
        path,
        block_size=4096,
        n_blocks=8,
        chunk=4,
        erase_chunk=256,
        program_unit=None,
        sync=False,
    ):
        self.path = path
        self.block_size = block_size
        self.n_blocks = n_blocks
        self.chunk = chunk
        self.erase_chunk = erase_chunk
        self.program_unit = program_unit
        self.sync = sync
        self.erase_counts = [0] * n_blocks
        self.bytes_programmed = 0
        size = block_size * n_blocks
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
        f.seek(0, 2)
        have = f.tell()
        if have < size:  # created (or grown) on first use: erased state
            ff = b"\xff" * 256
            while have < size:
                n = min(256, size - have)
                f.write(ff[:n])
                have += n
            f.flush()
        self._f = f

    def close(self):
        self._f.close()

    def _check(self, block, offset, n, span_blocks):
        if block < 0 or block >= self.n_blocks or offset < 0:
            raise OSError(_EINVAL)
        limit = (self.n_blocks - block if span_blocks else 1) * self.block_size
        if offset + n > limit:
            raise OSError(_EINVAL)

    def readblocks(self, block, buf, offset=0):
        self._check(block, offset, len(buf), True)
        f = self._f
        f.seek(block * self.block_size + offset)
        got = f.readinto(buf)
        if got != len(buf):
            raise OSError(5)

    def _program(self, pos, data):
        f = self._f
        n = len(data)
        old = bytearray(n)
        f.seek(pos)
        f.readinto(old)
        unit = self.program_unit
        if unit:
            if pos % unit or n % unit:
                raise OSError(_EINVAL)
            for i in range(n):
                if old[i] != 0xFF:
                    raise OSError(_EINVAL)  # reprogramming a written ECC word
        for i in range(n):
            old[i] &= data[i]
        mv = memoryview(old)
        c = self.chunk
        i = 0
        f.seek(pos)
        while i < n:
            f.write(mv[i : i + c])
            if self.sync:
                f.flush()
            i += c
        self.bytes_programmed += n

    def _erase(self, block):
        f = self._f
        base = block * self.block_size
        ff = b"\xff" * self.erase_chunk
        i = 0
        while i < self.block_size:
            f.seek(base + i)
            f.write(ff[: min(self.erase_chunk, self.block_size - i)])
            if self.sync:
                f.flush()
            i += self.erase_chunk
        self.erase_counts[block] += 1

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # basic protocol: whole blocks, erase then program
            n = len(buf)
            if n % self.block_size:
                raise OSError(_EINVAL)
            self._check(block, 0, n, True)
            mv = memoryview(buf)
            for i in range(n // self.block_size):
                self._erase(block + i)
                bs = self.block_size
                self._program((block + i) * bs, mv[i * bs : (i + 1) * bs])
            return
        self._check(block, offset, len(buf), False)
        self._program(block * self.block_size + offset, buf)

    def ioctl(self, op, arg):
        if op == _IOCTL_BLOCK_COUNT:
            return self.n_blocks
        if op == _IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == _IOCTL_BLOCK_ERASE:
            if arg < 0 or arg >= self.n_blocks:
                raise OSError(_EINVAL)
            self._erase(arg)
            return 0
        if op in (_IOCTL_INIT, _IOCTL_DEINIT):
            return 0
        if op == _IOCTL_SYNC:
            self._f.flush()
            return 0
        return None
