"""Fake `esp32` with Partition (ports/esp32/esp32_partition.c at MicroPython 1c3c201):
find(type=TYPE_APP, subtype=0xff, label=None, block_size=4096) -> list; info(); readblocks(n,
buf[, off]); writeblocks(n, buf) erases first, writeblocks(n, buf, off) only programs (NOR:
bits 1 -> 0, esp_partition_write); ioctl 4/5 count/size, ioctl 6 erases one 4 KiB block and
returns -EINVAL (22) unless block_size == 4096; ioctl 1-3 return 0."""

from fakes.fakehw import STATE

_NATIVE = 4096
_EINVAL = 22


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    _mem = {}  # label -> bytearray, kept across finds like the real flash

    def __init__(self, entry, block_size=_NATIVE):
        self._type, self._sub, self._label, self._size = entry
        self.block_size = block_size
        mem = Partition._mem.get(self._label)
        if mem is None or len(mem) != self._size:
            mem = Partition._mem[self._label] = bytearray(b"\xff" * self._size)
        self._m = mem

    @classmethod
    def find(cls, type=TYPE_APP, subtype=0xFF, label=None, block_size=_NATIVE):
        out = []
        for e in STATE.partitions:
            if e[0] != type or (subtype != 0xFF and e[1] != subtype):
                continue
            if label is not None and e[2] != label:
                continue
            out.append(cls(e, block_size))
        return out

    def info(self):
        return (self._type, self._sub, 0x310000, self._size, self._label, False)

    def _span(self, off, n):
        if off < 0 or off + n > self._size:
            raise OSError(-0x102)  # ESP_ERR_INVALID_ARG through check_esp_err
        return off

    def readblocks(self, block, buf, offset=0):
        p = self._span(block * self.block_size + offset, len(buf))
        buf[:] = self._m[p : p + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        p = block * self.block_size
        if offset is None:
            self._span(p, len(buf))
            start = p - p % _NATIVE
            self._m[start : p + len(buf)] = b"\xff" * (p + len(buf) - start)
        else:
            p += offset
        self._span(p, len(buf))
        m = self._m
        for i in range(len(buf)):
            m[p + i] &= buf[i]

    def ioctl(self, op, arg):
        if op in (1, 2, 3):
            return 0
        if op == 4:
            return self._size // self.block_size
        if op == 5:
            return self.block_size
        if op == 6:
            if self.block_size != _NATIVE:
                return -_EINVAL
            p = self._span(arg * _NATIVE, _NATIVE)
            self._m[p : p + _NATIVE] = b"\xff" * _NATIVE
            return 0
        return None
