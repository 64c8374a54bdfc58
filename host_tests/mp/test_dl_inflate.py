"""dl.image's reading of deflated files (docs/download.md §2.1.1, §2.3) on the unix port:
RawReader across its buffer, both sources of dl.image.inflater (one io.BytesIO up to
INFLATE_RAM, the RawReader above it or when that RAM cannot be had) and hash_deflated's
refusals. The streams are DEFLATE stored blocks (BTYPE 00) built here from RFC 1951 3.2.4, so
the decoder under test is MicroPython's own; images packed by CPython zlib are checked by
host_tests/py/test_dl_deflate.py."""

import hashlib
import io
import unittest

from dl import image


def stored_blocks(data, last=True, block=1000):
    """RFC 1951 3.2.4: per block BFINAL/BTYPE 00 in one byte, LEN, NLEN (little-endian)."""
    out = bytearray()
    for i in range(0, max(len(data), 1), block):
        part = data[i : i + block]
        final = 1 if last and i + block >= len(data) else 0
        n = len(part)
        out += bytes((final, n & 0xFF, n >> 8, ~n & 0xFF, (~n >> 8) & 0xFF)) + part
    return bytes(out)


def payload(n):
    return bytes((i * 7 + i // 256) & 0xFF for i in range(n))


class Slot:
    """Bytes at offsets, counting the calls."""

    def __init__(self, data, first=100):
        self.mem = bytes(first) + data
        self.first = first
        self.calls = 0

    def read_at(self, off, buf):
        self.calls += 1
        buf[:] = self.mem[off : off + len(buf)]


class NoRam:
    """Stands in for the io module when no block of RAM is left."""

    @staticmethod
    def BytesIO(n):
        raise MemoryError


def inflate(slot, n):
    d, src = image.inflater(slot.read_at, slot.first, n)
    out = bytearray()
    buf = bytearray(77)
    while True:
        k = d.readinto(buf)
        if not k:
            return bytes(out), src
        out += buf[:k]


class TestInflate(unittest.TestCase):
    def test_raw_reader_hands_out_every_byte_once(self):
        data = payload(300)
        s = Slot(data)
        r = image.RawReader(s.read_at, s.first, len(data))
        got = bytearray()
        sizes = (1, 3)  # DeflateIO asks for one byte; a larger read is served too
        n = 0
        while True:
            buf = bytearray(sizes[n % 2])
            n += 1
            k = r.readinto(buf)
            if not k:
                break
            got += buf[:k]
        self.assertEqual(bytes(got), data)
        self.assertEqual(r.tell(), 300)
        self.assertEqual(s.calls, 3)  # 128 + 128 + 44: a refill per buffer, not per byte

    def test_both_sources_give_the_file(self):
        small = payload(3000)
        big = payload(image.INFLATE_RAM + 5000)
        for data, kind in ((small, io.BytesIO), (big, image.RawReader)):
            z = stored_blocks(data)
            out, src = inflate(Slot(z), len(z))
            self.assertEqual(out, data)
            self.assertIsInstance(src, kind)
            self.assertEqual(src.tell(), len(z))

    def test_without_ram_for_the_copy_the_file_streams(self):
        z = stored_blocks(payload(2000))
        real = image.io
        image.io = NoRam
        try:
            out, src = inflate(Slot(z), len(z))
        finally:
            image.io = real
        self.assertIsInstance(src, image.RawReader)
        self.assertEqual(out, payload(2000))

    def test_hash_deflated_refuses_every_mismatch(self):
        data = payload(2500)
        want = hashlib.sha256(data).digest()
        buf = bytearray(256)

        def h(stream, size):
            s = Slot(stream)
            return image.hash_deflated(s.read_at, s.first, len(stream), size, hashlib.sha256, buf)

        z = stored_blocks(data)
        self.assertEqual(h(z, 2500), want)
        self.assertIsNone(h(z, 2499))  # the stream goes on past SIZE
        self.assertIsNone(h(z, 2501))  # it ends before SIZE
        self.assertIsNone(h(z + b"\0", 2500))  # stored bytes left unused
        self.assertIsNone(h(z[:-1], 2500))  # truncated: EOFError inside
        self.assertIsNone(h(stored_blocks(data, last=False), 2500))  # no final block
        bad = bytearray(z)
        bad[3] ^= 0xFF  # NLEN no longer the complement of LEN: OSError inside
        self.assertIsNone(h(bytes(bad), 2500))
        self.assertIsNone(h(b"\x07" + z[1:], 2500))  # BTYPE 11 is reserved


if __name__ == "__main__":
    unittest.main()
