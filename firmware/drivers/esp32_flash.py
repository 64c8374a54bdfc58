"""ESP32 store flash: a raw data partition through esp32.Partition (interfaces.BlockDevice).

esp32.Partition (ports/esp32/esp32_partition.c, MicroPython 1c3c201) already has the semantics
the store needs: 4 KiB blocks, ioctl(6) erases one block for real (esp_partition_erase_range),
writeblocks(n, buf, off) programs without erasing (NOR: bits only cleared). Two things this
adapter adds: the partition is looked up by label with a clear error if the partition table
lacks it, and ioctl(6)'s -EINVAL return (block_size != 4096) becomes an OSError instead of a
value the store would ignore.
"""

_NATIVE = 4096


class PartitionFlash:
    def __init__(self, esp32, label):
        parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label)
        if not parts:
            raise OSError(
                "no '%s' data partition in the partition table: see docs/boards.md" % label
            )
        p = parts[0]
        if p.ioctl(5, 0) != _NATIVE:
            raise OSError("partition block size is not 4096")
        self._p = p
        self.readblocks = p.readblocks
        self.writeblocks = p.writeblocks

    def ioctl(self, op, arg):
        r = self._p.ioctl(op, arg)
        if op == 6 and r != 0:
            raise OSError(-r if r else 5)
        return r
