"""Cross-check smitp.crypto / smitp.tmac running in a real Unix MicroPython process against the
CPython `cryptography` package (AES-CMAC, AES-CTR) and zlib (CRC-32) on seeded random cases."""

import os
import random
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smitp_sec_ref as ref  # noqa: E402

from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

N_CASES = 400
SEED = 4493

# Reads "key iv aca mon attr data" hex lines from the file named in argv[1]; prints one result
# line per case: cmac, Cmac-object cmac, ctr, ctr in place, tmac, crc32, ctr_iv, then the
# allocation-free forms: ctr_inplace at an offset, crc32 state functions, Ecb encrypt/decrypt of
# the first block, answer ctr_iv (all hex).
MP_SCRIPT = r"""
import sys
from binascii import hexlify, unhexlify
from smitp import crypto, tmac

def hx(b):
    return hexlify(b).decode() or "-"

with open(sys.argv[1]) as f:
    for line in f:
        k, iv, aca, mon, attr, data = line.split()
        k = unhexlify(k); iv = unhexlify(iv); aca = unhexlify(aca)
        data = unhexlify(data) if data != "-" else b""
        mon = int(mon, 16); attr = int(attr)
        c = crypto.Cmac(k)
        r = crypto.Ctr(k)
        buf = bytearray(data)
        r.ctr_into(buf, iv, buf)
        crc = tmac.crc32(data, tmac.crc32(aca))
        big = bytearray(b"xyz" + data + b"!")
        r.ctr_inplace(big, 3, len(data), iv)
        assert big[:3] == b"xyz" and big[-1:] == b"!"
        st = bytearray(4)
        c4 = bytearray(4)
        tmac.crc32_start(st)
        tmac.crc32_update(st, aca, 0, 6)
        tmac.crc32_update(st, data, 0, len(data))
        tmac.crc32_put_be(st, c4, 0)
        e = crypto.Ecb(k)
        blk = bytearray((data + bytes(16))[:16])
        e.encrypt_into(blk, blk)
        enc = bytes(blk)
        e.decrypt_into(blk, blk)
        print(hx(crypto.cmac(k, data)), hx(c.cmac(data)), hx(crypto.ctr(k, iv, data)), hx(buf),
              hx(tmac.tmac(c, attr, aca, mon, crc)), "%08x" % crc, hx(tmac.ctr_iv(aca, mon)),
              hx(big[3:3 + len(data)]), hx(c4), hx(enc), hx(blk),
              hx(tmac.ctr_iv(aca, mon, True)))
"""


def make_cases():
    rng = random.Random(SEED)
    cases = []
    for i in range(N_CASES):
        key = rng.randbytes(16)
        if i % 10 == 0:  # counters near 2^128 and near a 2^64 boundary: carries across bytes
            nff = (i // 10) % 17
            iv = rng.randbytes(16 - nff) + b"\xff" * nff
        else:
            iv = rng.randbytes(16)
        aca = rng.randbytes(6)
        mon = rng.getrandbits(64) if i % 7 else (1 << 64) - 1 - (i % 3)
        attr = rng.randrange(102, 247)
        n = i % 201 if i < 201 else rng.randrange(0, 201)
        data = rng.randbytes(n)
        cases.append((key, iv, aca, mon, attr, data))
    return cases


def run_mp(cases, tmp_path):
    inp = tmp_path / "cases.txt"
    with open(inp, "w") as f:
        for key, iv, aca, mon, attr, data in cases:
            f.write(f"{key.hex()} {iv.hex()} {aca.hex()} {mon:x} {attr} {data.hex() or '-'}\n")
    script = tmp_path / "crypto_ref.py"
    script.write_text(MP_SCRIPT)
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=8M", str(script), str(inp)],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    return [line.split() for line in p.stdout.splitlines()]


def test_crypto_matches_cryptography(tmp_path):
    cases = make_cases()
    assert len(cases) >= 300
    rows = run_mp(cases, tmp_path)
    assert len(rows) == len(cases)
    for (key, iv, aca, mon, attr, data), row in zip(cases, rows):
        tag = ref.cmac(key, data).hex()
        ct = ref.ctr(key, iv, data).hex() or "-"
        crc = zlib.crc32(aca + data)
        m = bytes([attr]) + aca[:3] + mon.to_bytes(8, "big") + crc.to_bytes(4, "big")
        iv_ref = aca + mon.to_bytes(8, "big") + b"\x00\x01"
        expect = [tag, tag, ct, ct, ref.cmac(key, m)[:8].hex(), f"{crc:08x}", iv_ref.hex()]
        blk = (data + bytes(16))[:16]
        expect += [ct, f"{crc:08x}", ref.ecb(key, blk).hex(), blk.hex()]
        expect.append((aca + mon.to_bytes(8, "big") + b"\x80\x01").hex())
        assert row == expect, (key.hex(), iv.hex(), len(data))


def test_case_mix_covers_lengths_and_carries():
    cases = make_cases()
    lengths = {len(c[5]) for c in cases}
    assert set(range(0, 201)) <= lengths
    assert any(c[1].endswith(b"\xff" * 16) for c in cases)
