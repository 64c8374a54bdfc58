"""smitp.crypto / smitp.tmac under Unix MicroPython, against published vectors (RFC 4493,
NIST SP 800-38A F.5) and hand-built counter blocks. Random cross-checks against the CPython
`cryptography` package live in host_tests/py/test_crypto_reference.py."""

import unittest
from binascii import hexlify, unhexlify

import cryptolib
import micropython
from smitp import crypto, tmac

KEY = unhexlify("2b7e151628aed2a6abf7158809cf4f3c")
MSG = unhexlify(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
# RFC 4493 section 4, examples 1-4 (message lengths 0, 16, 40, 64).
CMAC_VECTORS = (
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
)
# RFC 4493 section 4 subkeys.
K1 = "fbeed618357133667c85e08f7236a8de"
K2 = "f7ddac306ae266ccf90bc11ee46d513b"
# SP 800-38A F.5.1 / F.5.2 CTR-AES128.
CTR_IV = unhexlify("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
CTR_CT = unhexlify(
    "874d6191b620e3261bef6864990db6ce"
    "9806f66b7970fdff8617187bb9fffdff"
    "5ae4df3edbd5d35e5b4f09020db03eab"
    "1e031dda2fbe03d1792170a0f3009cee"
)


def h(b):
    return hexlify(b).decode()


def ref_ctr(key, counter_blocks, data):
    # Reference CTR: ECB-encrypt explicitly listed counter blocks, XOR.
    aes = cryptolib.aes(key, 1)
    ks = bytearray(16 * len(counter_blocks))
    aes.encrypt(b"".join(counter_blocks), ks)
    return bytes(d ^ k for d, k in zip(data, ks))


class TestCmac(unittest.TestCase):
    def test_rfc4493_examples(self):
        for n, tag in CMAC_VECTORS:
            with self.subTest(n=n):
                self.assertEqual(h(crypto.cmac(KEY, MSG[:n])), tag)

    def test_rfc4493_subkeys(self):
        c = crypto.Cmac(KEY)
        self.assertEqual(h(c._k1), K1)
        self.assertEqual(h(c._k2), K2)

    def test_class_reuse_and_buffer_types(self):
        c = crypto.Cmac(KEY)
        out = bytearray(16)
        for _ in range(2):
            for n, tag in CMAC_VECTORS:
                self.assertEqual(h(c.cmac(MSG[:n])), tag)
                self.assertEqual(h(c.cmac(bytearray(MSG[:n]))), tag)
                self.assertEqual(h(c.cmac(memoryview(MSG)[:n])), tag)
                self.assertIs(c.cmac_into(out, MSG[:n]), out)
                self.assertEqual(h(out), tag)

    def test_odd_lengths_consistent(self):
        c = crypto.Cmac(KEY)
        data = bytes(range(256)) * 2
        seen = set()
        for n in (1, 15, 17, 31, 32, 33, 47, 48, 49, 63, 65, 100, 257, 512):
            t = c.cmac(data[:n])
            self.assertEqual(len(t), 16)
            self.assertEqual(bytes(t), crypto.cmac(KEY, data[:n]))
            seen.add(bytes(t))
        self.assertEqual(len(seen), 14)

    def test_bad_key(self):
        with self.assertRaises(ValueError):
            crypto.Cmac(b"short")


class TestCtr(unittest.TestCase):
    def test_sp800_38a_f51_encrypt(self):
        self.assertEqual(crypto.ctr(KEY, CTR_IV, MSG), CTR_CT)

    def test_sp800_38a_f52_decrypt(self):
        self.assertEqual(crypto.ctr(KEY, CTR_IV, CTR_CT), MSG)

    def test_counter_wraps_with_carry(self):
        # Low 7 bytes all ff: +1 carries through them into byte 8 (08 -> 09).
        iv = unhexlify("000102030405060708ffffffffffffff")
        blocks = (
            iv,
            unhexlify("00010203040506070900000000000000"),
            unhexlify("00010203040506070900000000000001"),
        )
        data = bytes(range(40))
        self.assertEqual(crypto.ctr(KEY, iv, data), ref_ctr(KEY, blocks, data))

    def test_counter_wraps_modulo_2_128(self):
        iv = b"\xff" * 16
        blocks = (iv, bytes(16), bytes(15) + b"\x01")
        data = bytes(range(100, 148))
        self.assertEqual(crypto.ctr(KEY, iv, data), ref_ctr(KEY, blocks, data))

    def test_odd_lengths_are_prefixes(self):
        full = crypto.ctr(KEY, CTR_IV, MSG)
        for n in range(0, 65):
            with self.subTest(n=n):
                part = crypto.ctr(KEY, CTR_IV, MSG[:n])
                self.assertEqual(part, full[:n])
                self.assertEqual(crypto.ctr(KEY, CTR_IV, part), MSG[:n])

    def test_long_message_crosses_keystream_chunks(self):
        # Ctr works 8 blocks per cryptolib call: check 300 bytes block by block.
        data = bytes((i * 7) & 0xFF for i in range(300))
        iv = unhexlify("00000000000000000000000000fffffa")
        blocks = []
        v = int.from_bytes(iv, "big")
        for i in range(19):
            blocks.append(((v + i) % (1 << 128)).to_bytes(16, "big"))
        self.assertEqual(crypto.ctr(KEY, iv, data), ref_ctr(KEY, blocks, data))

    def test_in_place(self):
        c = crypto.Ctr(KEY)
        buf = bytearray(MSG)
        self.assertIs(c.ctr_into(buf, CTR_IV, buf), buf)
        self.assertEqual(buf, CTR_CT)
        c.ctr_into(buf, CTR_IV, buf)
        self.assertEqual(buf, MSG)

    def test_into_checks(self):
        c = crypto.Ctr(KEY)
        with self.assertRaises(ValueError):
            c.ctr_into(bytearray(3), CTR_IV, b"four")
        with self.assertRaises(ValueError):
            c.ctr_into(bytearray(4), CTR_IV[:8], b"four")


class TestEcbCompare(unittest.TestCase):
    def test_ecb_fips197_and_sp800_38a(self):
        # FIPS-197 C.1 (AES-128) and SP 800-38A F.1.1 block 1.
        k = unhexlify("000102030405060708090a0b0c0d0e0f")
        p = unhexlify("00112233445566778899aabbccddeeff")
        c = unhexlify("69c4e0d86a7b0430d8cdb78070b4c55a")
        self.assertEqual(crypto.ecb_encrypt(k, p), c)
        self.assertEqual(crypto.ecb_decrypt(k, c), p)
        c1 = unhexlify("3ad77bb40d7a3660a89ecaf32466ef97")
        self.assertEqual(crypto.ecb_encrypt(KEY, MSG[:16]), c1)
        self.assertEqual(crypto.ecb_decrypt(KEY, c1), MSG[:16])
        with self.assertRaises(ValueError):
            crypto.ecb_encrypt(KEY, MSG[:15])

    def test_ct_equal(self):
        self.assertTrue(crypto.ct_equal(b"", b""))
        self.assertTrue(crypto.ct_equal(b"abcdefgh", bytearray(b"abcdefgh")))
        self.assertFalse(crypto.ct_equal(b"abcdefgh", b"abcdefgi"))
        self.assertFalse(crypto.ct_equal(b"xbcdefgh", b"abcdefgh"))
        self.assertFalse(crypto.ct_equal(b"abc", b"abcd"))
        self.assertFalse(crypto.ct_equal(b"abcd", b"abc"))
        self.assertFalse(crypto.ct_equal(b"\x00", b"\x80"))
        self.assertTrue(crypto.ct_equal(memoryview(MSG)[8:16], MSG[8:16]))


class TestTmac(unittest.TestCase):
    def test_crc32(self):
        self.assertEqual(tmac.crc32(b"123456789"), 0xCBF43926)
        self.assertEqual(tmac.crc32(b""), 0)
        self.assertEqual(tmac.crc32(b"56789", tmac.crc32(b"1234")), 0xCBF43926)

    def test_block_layout(self):
        m = tmac.tmac_block(0x66, b"\xa1\xa2\xa3\xa4\xa5\xa6", 0x0102030405060708, 0xDEADBEEF)
        self.assertEqual(h(m), "66a1a2a30102030405060708deadbeef")

    def test_tmac_value(self):
        # Expected value from CPython `cryptography` CMAC over the block above's layout.
        t = tmac.tmac(bytes(16), 102, b"abcdef", 5, 0xDEADBEEF)
        self.assertEqual(h(t), "9fb78297003f0872")
        self.assertEqual(tmac.tmac(crypto.Cmac(bytes(16)), 102, b"abcdef", 5, 0xDEADBEEF), t)

    def test_ctr_iv(self):
        iv = tmac.ctr_iv(b"\x01\x02\x03\x04\x05\x06", 0x1122334455667788)
        self.assertEqual(h(iv), "0102030405061122334455667788" + "0001")
        self.assertEqual(
            h(tmac.ctr_iv(bytes(6), (1 << 64) - 1)), "000000000000" + "ff" * 8 + "0001"
        )


class TestNoAllocation(unittest.TestCase):
    def test_into_paths_do_not_allocate(self):
        c = crypto.Cmac(KEY)
        r = crypto.Ctr(KEY)
        out = bytearray(16)
        buf = bytearray(200)
        dst = bytearray(200)
        mv = memoryview(MSG)
        e = crypto.Ecb(KEY)
        blk = bytearray(range(16))
        st = bytearray(4)
        # Warm up (first calls may intern/cache anything lazily).
        c.cmac_into(out, MSG)
        r.ctr_into(dst, CTR_IV, buf)
        micropython.heap_lock()
        try:
            c.cmac_into(out, MSG)
            c.cmac_into(out, b"")
            c.cmac_into(out, mv)
            c.cmac_into(out, buf)
            r.ctr_into(dst, CTR_IV, buf)
            r.ctr_into(buf, CTR_IV, buf)
            r.ctr_into(buf, CTR_IV, buf)
            eq = crypto.ct_equal(out, out)
            r.ctr_inplace(dst, 5, 100, CTR_IV)
            e.encrypt_into(blk, blk)
            e.decrypt_into(blk, blk)
            eq2 = crypto.ct_equal_at(dst, 5, dst, 5, 100)
            tmac.crc32_start(st)
            tmac.crc32_update(st, MSG, 3, 40)
            tmac.crc32_put_be(st, out, 0)
        finally:
            micropython.heap_unlock()
        self.assertTrue(eq2)
        self.assertEqual(bytes(blk), bytes(range(16)))
        self.assertEqual(bytes(out[:4]), tmac.crc32(MSG[3:43]).to_bytes(4, "big"))
        self.assertEqual(h(c.cmac(MSG)), CMAC_VECTORS[3][1])
        self.assertEqual(buf, bytearray(200))
        self.assertTrue(eq)


class TestSecurityPrimitives(unittest.TestCase):
    def test_ecb_object_matches_one_shot_and_fips197(self):
        e = crypto.Ecb(unhexlify("000102030405060708090a0b0c0d0e0f"))
        b = bytearray(unhexlify("00112233445566778899aabbccddeeff"))
        e.encrypt_into(b, b)
        self.assertEqual(h(b), "69c4e0d86a7b0430d8cdb78070b4c55a")  # FIPS-197 C.1
        e.decrypt_into(b, b)
        self.assertEqual(h(b), "00112233445566778899aabbccddeeff")

    def test_ctr_inplace_range(self):
        r = crypto.Ctr(KEY)
        buf = bytearray(b"ab" + MSG + b"cd")
        r.ctr_inplace(buf, 2, 64, CTR_IV)
        self.assertEqual(bytes(buf[2:66]), CTR_CT)
        self.assertEqual((bytes(buf[:2]), bytes(buf[66:])), (b"ab", b"cd"))
        with self.assertRaises(ValueError):
            r.ctr_inplace(buf, 10, 60, CTR_IV)

    def test_ct_equal_at_and_crc_state(self):
        a = bytes(range(40))
        self.assertTrue(crypto.ct_equal_at(a, 8, bytes(range(8, 20)), 0, 12))
        self.assertFalse(crypto.ct_equal_at(a, 8, bytes(range(9, 21)), 0, 12))
        with self.assertRaises(ValueError):
            crypto.ct_equal_at(a, 35, a, 0, 8)
        st = bytearray(4)
        out = bytearray(4)
        tmac.crc32_start(st)
        tmac.crc32_update(st, b"123456789", 0, 9)
        tmac.crc32_put_be(st, out, 0)
        self.assertEqual(h(out), "cbf43926")
        self.assertEqual(h(tmac.ctr_iv(bytes(6), 1, True)), "000000000000" + "00" * 7 + "018001")
