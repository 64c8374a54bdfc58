"""The on-board self-test passes on the unix port, and its checks can fail."""

import unittest

import selftest


class TestSelftest(unittest.TestCase):
    def test_all_checks_pass(self):
        self.assertTrue(selftest.run())

    def test_store_check_detects_a_store_that_returns_torn_data(self):
        import store

        real = store.Store.get
        store.Store.get = lambda self, key, default=None: b"half"
        try:
            self.assertFalse(selftest.check_store())
        finally:
            store.Store.get = real

    def test_ram_flash_is_nor(self):
        f = selftest.RamFlash(64, 2)
        f.writeblocks(0, b"\x0f", 0)
        f.writeblocks(0, b"\xf0", 0)
        buf = bytearray(1)
        f.readblocks(0, buf, 0)
        self.assertEqual(buf[0], 0)  # programming only clears bits
        f.ioctl(6, 0)
        f.readblocks(0, buf, 0)
        self.assertEqual(buf[0], 0xFF)
