"""phy.hostif: HI codec vectors, CRC reference, streaming parser (incl. fuzz), host machine.

The CRC reference here is a bitwise polynomial division written independently of the table
code in hostif (remainder of M(x) mod x^16+x^12+x^5+1, MSB first, init 0).
"""

import random
import unittest

import micropython
from crc import crc16_hi
from phy import hostif as h


def ref_crc(data):
    r = 0
    for b in data:
        for i in range(7, -1, -1):
            r = (r << 1) | ((b >> i) & 1)
            if r & 0x10000:
                r ^= 0x11021
    return r


def ref_frame(cmd, payload, stx=0x02):
    body = bytes((len(payload) - 1, cmd)) + bytes(payload)
    c = ref_crc(body)
    return bytes((stx,)) + body + bytes((c & 0xFF, c >> 8))


def rand_bytes(n):
    return bytes(random.getrandbits(8) for _ in range(n))


def drain(p, now=0):
    out = []
    while True:
        ev = p.next(now)
        if ev == h.P_NONE:
            return out
        if ev == h.P_FRAME:
            out.append(("F", p.cmd, bytes(p.frame[: p.length]), p.retry))
        elif ev == h.P_STATUS:
            out.append(("S", p.status, p.mib_mask))
        else:
            out.append(ev)


class TestCrc(unittest.TestCase):
    def test_hostif_crc_check_value(self):
        self.assertEqual(crc16_hi(b"123456789"), 0xBEEF)
        self.assertEqual(ref_crc(b"123456789"), 0xBEEF)
        # augmented with two zero bytes the same register gives CRC-16/XMODEM's check value
        self.assertEqual(crc16_hi(b"123456789\x00\x00"), 0x31C3)

    def test_hostif_crc_matches_bitwise_reference(self):
        random.seed(1)
        for n in (0, 1, 2, 7, 64, 261):
            d = rand_bytes(n)
            self.assertEqual(crc16_hi(d), ref_crc(d))

    def test_hostif_crc_incremental_and_prefix(self):
        d = b"meters and more"
        self.assertEqual(crc16_hi(d[5:], -1, crc16_hi(d[:5])), crc16_hi(d))
        self.assertEqual(crc16_hi(d, 5), crc16_hi(d[:5]))


class TestCodec(unittest.TestCase):
    def test_hostif_encode_vectors(self):
        # Ping.REQ with one byte: hand-built from the frame rule and the reference CRC
        self.assertEqual(h.encode(0x2C, b"\x5a"), ref_frame(0x2C, b"\x5a"))
        c = ref_crc(b"\x00\x2c\x5a")
        self.assertEqual(h.encode(0x2C, b"\x5a"), bytes((2, 0, 0x2C, 0x5A, c & 0xFF, c >> 8)))
        self.assertEqual(h.encode(0x0C, b"\x0c", retry=True), ref_frame(0x0C, b"\x0c", stx=0x03))
        big = bytes(range(256))
        f = h.encode(0x24, big)
        self.assertEqual(f[1], 0xFF)
        self.assertEqual(len(f), 261)
        self.assertEqual(f, ref_frame(0x24, big))

    def test_hostif_decode_roundtrip_and_errors(self):
        for retry in (False, True):
            f = h.encode(0x26, b"\x01\x02\x03", retry)
            self.assertEqual(h.decode(f), (0x26, b"\x01\x02\x03", retry))
        bad = bytearray(h.encode(0x26, b"\x01\x02\x03"))
        bad[-1] ^= 1
        self.assertRaises(ValueError, h.decode, bytes(bad))
        self.assertRaises(ValueError, h.decode, b"\x02\x05\x26\x00\x00\x00")
        self.assertRaises(ValueError, h.encode, 0x2C, b"")
        self.assertRaises(ValueError, h.encode, 0x2C, bytes(257))

    def test_hostif_command_code_relations(self):
        self.assertEqual(h.cfm_of(h.CMD_SLAVE_DATA_REQ), h.CMD_SLAVE_DATA_CFM)
        self.assertEqual(h.ncfm_of(h.CMD_SLAVE_DATA_REQ), h.CMD_SLAVE_DATA_NCFM)
        self.assertEqual(h.ncfm_of(h.CMD_MASTER_DATA_REQ), h.CMD_MASTER_DATA_NCFM)
        self.assertEqual(h.ncfm_of(h.CMD_MIB_READ_REQ), h.CMD_MIB_READ_NCFM)
        self.assertEqual(h.ncfm_of(h.CMD_MIB_WRITE_REQ), h.CMD_MIB_WRITE_NCFM)
        self.assertEqual(h.ncfm_of(h.CMD_PING_REQ), -1)
        self.assertEqual(h.ncfm_of(h.CMD_BIO_RESET_REQ), -1)
        self.assertEqual(h.cfm_of(h.CMD_BIO_RESET_REQ), 0x3D)
        self.assertTrue(h.is_indication(0x26) and h.is_indication(0x36))
        self.assertFalse(h.is_indication(0x25))
        self.assertEqual(h.error_name(8), "TIMEOUT")
        self.assertEqual(h.error_name(0xFF), "ERROR")
        self.assertIn("TIMEOUT", str(h.HostIfError(8, 0x24)))

    def test_hostif_mib_helpers(self):
        t = h.encode_timing(20, 1000, 0, 250, 255)
        self.assertEqual(t, b"\x14\x00\xe8\x03\x00\x00\xfa\x00\xff")
        self.assertEqual(h.decode_timing(t), (20, 1000, 0, 250, 255))
        self.assertRaises(ValueError, h.encode_timing, 70000, 0, 0, 0, 0)
        self.assertRaises(ValueError, h.decode_timing, t[:8])
        for v in (0, 1, 0x0102030405060708, (1 << 64) - 1):
            self.assertEqual(h.decode_lmon(h.encode_lmon(v)), v)
        self.assertEqual(h.encode_lmon(0x0102), b"\x02\x01" + bytes(6))
        self.assertRaises(ValueError, h.encode_lmon, 1 << 64)
        self.assertEqual(h.mib_size(h.MIB_TIMING), 9)
        self.assertEqual(h.mib_size(h.MIB_LMON), 8)
        self.assertEqual(h.mib_size(h.MIB_KEYS), 32)
        self.assertEqual(h.mib_size(h.MIB_MANUFACTURER), 22)
        self.assertEqual(h.mib_size(200), 0)
        self.assertEqual(h.mib_write_req(10, b"\x01"), b"\x0a\x01")
        self.assertEqual(h.decode_mac_config(h.encode_mac_config(1, 2)), (1, 2))
        m = h.encode_manufacturer(bytes(range(16)), b"\xaa" * 6)
        self.assertEqual(h.decode_manufacturer(m), (bytes(range(16)), b"\xaa" * 6))
        self.assertEqual(len(h.encode_keys(bytes(16), bytes(16))), 32)

    def test_hostif_data_payloads(self):
        out = bytearray(10)
        n = h.data_req_into(out, 0, 0x1FF, b"\x10\x20")
        self.assertEqual(bytes(out[:n]), b"\x00\xff\x10\x20")
        p = h.encode_data_ind(2, 80, -6, True, b"\xab")
        self.assertEqual(p, b"\x02\x50\xfa\x01\xab")
        self.assertEqual(h.decode_data_ind(p), (2, 80, -6, True))
        self.assertRaises(ValueError, h.decode_data_ind, b"\x00")
        self.assertEqual(h.encode_status(0x09, 0x1234), b"\x3f\x09\x34\x12")


class TestParser(unittest.TestCase):
    def test_hostif_parser_byte_by_byte(self):
        p = h.Parser()
        f = ref_frame(0x26, b"hello")
        got = []
        for i, b in enumerate(f):
            p.feed(bytes((b,)), -1, i)
            got += drain(p, i)
        self.assertEqual(got, [("F", 0x26, b"hello", False)])
        self.assertEqual(p.pending(), 0)

    def test_hostif_parser_events_and_garbage(self):
        p = h.Parser()
        stream = (
            b"\x00\xff\x55"
            + ref_frame(0x2D, b"\x01")
            + b"\x06\x15"
            + b"\x3f\x0b\x00\x10"
            + b"\x99"
            + ref_frame(0x36, b"\x05", 0x03)
        )
        p.feed(stream, -1, 0)
        self.assertEqual(
            drain(p),
            [
                ("F", 0x2D, b"\x01", False),
                h.P_ACK,
                h.P_NACK,
                ("S", 0x0B, 0x1000),
                ("F", 0x36, b"\x05", True),
            ],
        )
        self.assertEqual(p.garbage, 4)

    def test_hostif_parser_bad_crc_then_resync(self):
        p = h.Parser()
        bad = bytearray(ref_frame(0x26, b"abcdef"))
        bad[5] ^= 0x40
        p.feed(bytes(bad) + ref_frame(0x26, b"ok"), -1, 0)
        self.assertEqual(drain(p), [h.P_BAD_CRC, ("F", 0x26, b"ok", False)])
        self.assertEqual(p.crc_errors, 1)

    def test_hostif_parser_stray_stx_does_not_swallow_frame(self):
        # 0x02 0x01 would claim a 2-byte payload made of the real frame's first bytes
        for noise in (b"\x02", b"\x03\x01", b"\x02\x00\x00"):
            p = h.Parser()
            p.feed(noise + ref_frame(0x25, b"\x07\x08\x09\x0a"), -1, 0)
            got = drain(p, 0)
            if not got:  # the noise candidate waits for bytes that never come
                got = drain(p, 20)
            self.assertEqual(got, [("F", 0x25, b"\x07\x08\x09\x0a", False)], noise)

    def test_hostif_parser_intercharacter_timeout(self):
        p = h.Parser()
        f = ref_frame(0x26, b"abc")
        p.feed(f[:4], -1, 100)
        self.assertEqual(drain(p, 105), [])
        self.assertEqual(p.pending(), 4)
        self.assertEqual(drain(p, 111), [])  # > 10 ms: the partial frame is dropped
        self.assertEqual(p.pending(), 0)
        self.assertGreaterEqual(p.timeouts, 1)
        p.feed(f, -1, 200)
        self.assertEqual(drain(p, 200), [("F", 0x26, b"abc", False)])

    def test_hostif_parser_fuzz_never_raises_and_stays_bounded(self):
        random.seed(7)
        p = h.Parser()
        now = 0
        for _ in range(300):
            chunk = rand_bytes(random.getrandbits(6) + 1)
            p.feed(chunk, -1, now)
            for _ in range(600):
                if p.next(now) == h.P_NONE:
                    break
            self.assertLessEqual(p.pending(), 512)
            now += random.getrandbits(4)
        # and it still decodes a clean frame after all that noise (after a quiet gap)
        drain(p, now + 50)
        p.feed(ref_frame(0x26, b"after"), -1, now + 60)
        self.assertEqual(drain(p, now + 60)[-1], ("F", 0x26, b"after", False))

    def test_hostif_parser_frames_in_random_noise(self):
        random.seed(3)
        frames = []
        stream = bytearray()
        for _k in range(40):
            noise = bytes(
                b
                for b in rand_bytes(random.getrandbits(3))
                if b not in (0x02, 0x03, 0x06, 0x15, 0x3F)
            )
            pl = rand_bytes(random.getrandbits(5) + 1)
            frames.append(("F", 0x26, pl, False))
            stream += noise + ref_frame(0x26, pl)
        p = h.Parser()
        got = []
        for i in range(0, len(stream), 37):  # odd-sized chunks
            p.feed(stream[i : i + 37], -1, 0)
            got += drain(p)
        self.assertEqual(got, frames)

    def test_hostif_parser_overflow_is_bounded(self):
        p = h.Parser()
        p.feed(b"\x02\xff" + bytes(700), -1, 0)
        self.assertEqual(p.pending(), 512)
        self.assertGreater(p.overflows, 0)
        drain(p, 100)
        self.assertEqual(p.pending(), 0)

    def test_hostif_parser_does_not_allocate(self):
        p = h.Parser()
        f = ref_frame(0x26, bytes(range(100)))
        noise = b"\x00\x11"
        p.feed(f, -1, 0)
        drain(p)
        micropython.heap_lock()
        try:
            for _ in range(3):
                p.feed(noise, -1, 0)
                p.feed(f, -1, 0)
                while p.next(0) != h.P_NONE:
                    pass
        finally:
            micropython.heap_unlock()
        self.assertEqual(bytes(p.frame[: p.length]), bytes(range(100)))


class Wire:
    def __init__(self):
        self.out = []

    def __call__(self, buf):
        self.out.append(bytes(buf))

    def take(self):
        o = self.out
        self.out = []
        return o


class TestHostIf(unittest.TestCase):
    def setUp(self):
        self.w = Wire()
        self.hi = h.HostIf(self.w)

    def feed(self, data, now):
        self.hi.feed(data, -1, now)
        evs = []
        while True:
            ev = self.hi.poll(now)
            if ev == h.EV_NONE:
                return evs
            evs.append((ev, self.hi.error, self.hi.cmd, bytes(self.hi.payload())))

    def test_hostif_request_ack_cfm(self):
        hi = self.hi
        hi.request(h.CMD_PING_REQ, b"\x5a", 0)
        self.assertEqual(self.w.take(), [ref_frame(0x2C, b"\x5a")])
        self.assertTrue(hi.busy())
        self.assertEqual(self.feed(b"\x06", 5), [])
        evs = self.feed(ref_frame(0x2D, b"\x5a"), 20)
        self.assertEqual(evs, [(h.EV_DONE, 0, 0x2D, b"\x5a")])
        self.assertEqual(self.w.take(), [b"\x06"])  # the CFM is ACKed
        self.assertFalse(hi.busy())

    def test_hostif_nack_resends_with_retry_stx(self):
        self.hi.request(h.CMD_MIB_READ_REQ, b"\x0c", 0)
        self.w.take()
        self.feed(b"\x15", 3)
        self.assertEqual(self.w.take(), [ref_frame(0x0C, b"\x0c", 0x03)])
        self.feed(b"\x06", 6)
        evs = self.feed(ref_frame(0x0D, b"\x0c" + bytes(9)), 10)
        self.assertEqual(evs[0][:3], (h.EV_DONE, 0, 0x0D))
        self.assertEqual(self.hi.resends, 1)

    def test_hostif_ack_timeout_retries_then_timeout_error(self):
        hi = self.hi
        hi.request(h.CMD_PING_REQ, b"\x01", 1000)
        self.assertEqual(hi.poll(1039), h.EV_NONE)
        self.assertEqual(len(self.w.take()), 1)
        self.assertEqual(hi.poll(1040), h.EV_NONE)  # resend 1
        self.assertEqual(hi.poll(1080), h.EV_NONE)  # resend 2
        sent = self.w.take()
        self.assertEqual([f[0] for f in sent], [3, 3])
        self.assertEqual(hi.poll(1120), h.EV_DONE)
        self.assertEqual(hi.error, h.ERR_TIMEOUT)
        self.assertEqual(hi.cmd, h.CMD_PING_REQ)
        self.assertFalse(hi.busy())

    def test_hostif_repeated_nack_gives_crc_error(self):
        self.hi.request(h.CMD_PING_REQ, b"\x01", 0)
        evs = self.feed(b"\x15\x15\x15", 1)
        self.assertEqual(evs[0][:2], (h.EV_DONE, h.ERR_CRC))

    def test_hostif_cfm_timeout(self):
        hi = self.hi
        hi.request(h.CMD_SLAVE_DATA_REQ, b"\x00\x01\x10", 0, -1, 400)
        self.w.take()
        self.feed(b"\x06", 1)
        self.assertEqual(hi.poll(400), h.EV_NONE)
        self.assertEqual(self.w.take(), [])
        self.assertEqual(hi.poll(401), h.EV_NONE)
        self.assertEqual(self.w.take()[-1][0], 0x03)  # resent after the CFM timeout

    def test_hostif_ncfm_and_hi_error(self):
        self.hi.request(h.CMD_MIB_WRITE_REQ, b"\x0c\x00", 0)
        evs = self.feed(b"\x06" + ref_frame(0x0B, b"\x02"), 2)
        self.assertEqual(evs, [(h.EV_DONE, h.ERR_WPL, 0x0B, b"\x02")])
        self.hi.request(h.CMD_PING_REQ, b"\x00", 10)
        evs = self.feed(ref_frame(0x36, b"\x05"), 12)
        self.assertEqual(evs[0][:2], (h.EV_DONE, h.ERR_COMMAND))

    def test_hostif_cfm_before_ack_counts(self):
        self.hi.request(h.CMD_PING_REQ, b"\x00", 0)
        evs = self.feed(ref_frame(0x2D, b"\x00"), 2)
        self.assertEqual(evs[0][:2], (h.EV_DONE, 0))

    def test_hostif_indication_acked_and_deduplicated(self):
        f = ref_frame(0x26, h.encode_data_ind(0, 70, 12, True, b"LLC"))
        evs = self.feed(f, 0)
        self.assertEqual(evs[0][0], h.EV_IND)
        self.assertEqual(evs[0][2], 0x26)
        self.assertEqual(self.w.take(), [b"\x06"])
        retry = b"\x03" + f[1:]
        self.assertEqual(self.feed(retry, 5), [])  # our ACK was lost: ACK again, drop the copy
        self.assertEqual(self.w.take(), [b"\x06"])
        self.assertEqual(self.hi.duplicates, 1)
        self.assertEqual(self.feed(f, 9)[0][0], h.EV_IND)  # a fresh identical frame is new data

    def test_hostif_corrupt_frame_is_nacked(self):
        bad = bytearray(ref_frame(0x26, b"\x00\x01\x02\x03\x04"))
        bad[4] ^= 0xFF
        # the payload holds 0x02 0x03: those candidates wait out the 10 ms inter-char timeout
        self.assertEqual(self.feed(bytes(bad), 0), [])
        self.assertEqual(self.w.take(), [])
        self.assertEqual(self.feed(b"", 11), [])
        self.assertEqual(self.w.take(), [b"\x15"])
        bad = bytearray(ref_frame(0x26, b"\x40\x41\x42\x43\x44\x45"))
        bad[4] ^= 0x01
        self.assertEqual(self.feed(bytes(bad), 20) + self.feed(b"", 31), [])
        self.assertEqual(self.w.take(), [b"\x15"])

    def test_hostif_status_frame(self):
        evs = self.feed(h.encode_status(0x09, 0x0410), 0)
        self.assertEqual(evs[0][0], h.EV_STATUS)
        self.assertEqual((self.hi.status, self.hi.mib_mask), (0x09, 0x0410))

    def test_hostif_one_request_at_a_time(self):
        self.hi.request(h.CMD_PING_REQ, b"\x00", 0)
        self.assertRaises(h.HostIfError, self.hi.request, h.CMD_PING_REQ, b"\x00", 0)

    def test_hostif_stale_cfm_is_ignored(self):
        # a CFM answering an earlier retransmission (wrong token) must not complete this request
        self.hi.request(h.CMD_PING_REQ, b"\x02", 0, -1, 0, 2)
        evs = self.feed(b"\x06" + ref_frame(0x2D, b"\x01"), 1)
        self.assertEqual(evs, [])
        self.assertEqual(self.hi.stale, 1)
        evs = self.feed(ref_frame(0x2D, b"\x02"), 2)
        self.assertEqual(evs[0][:2], (h.EV_DONE, 0))
