"""firmware/lib/crc.py under MicroPython against the `crccheck` package (an independent
reference): CRC-8/SMBUS, CRC-16/CCITT-FALSE, the host-interface CRC-16, CRC-32 (int, chained,
appended/checked in place) on seeded random data."""

import json
import random
import subprocess

from crccheck.crc import Crc8Smbus, Crc16CcittFalse, Crc16Xmodem, Crc32

from tools.mpenv import ROOT, micropython_exe, mp_env

MP = r"""
import json, sys
import crc
data = [bytes.fromhex(h) for h in json.load(open(sys.argv[1]))]
out = []
for d in data:
    n = len(d)
    b = bytearray(d + b"\0\0\0\0")
    crc.crc32_put(b, n)
    ok = crc.crc32_ok(b, n)
    put = bytes(b[n:n + 4]).hex()
    b[0] ^= 1
    half = n // 2
    out.append([crc.crc8(d, n), crc.crc16_ccitt(d, n), crc.crc16_hi(d + b"\0\0"),
                crc.crc16_hi(d[half:], -1, crc.crc16_hi(d[:half])), crc.crc32(d),
                crc.crc32(d[half:], crc.crc32(d[:half])), put, ok,
                crc.crc32_ok(b, n)])
print(json.dumps(out))
"""


def test_crc_module_against_crccheck(tmp_path):
    rng = random.Random(8)
    data = [b"", b"123456789", b"\xff" * 40] + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(60)
    ]
    (tmp_path / "d.json").write_text(json.dumps([d.hex() for d in data]))
    (tmp_path / "t.py").write_text(MP)
    p = subprocess.run(
        [micropython_exe(), str(tmp_path / "t.py"), str(tmp_path / "d.json")],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    for d, g in zip(data, got, strict=True):
        c32 = Crc32.calc(d)
        hi = Crc16Xmodem.calc(d)  # the HI register over d + 00 00 is the XMODEM CRC of d
        assert g[0] == Crc8Smbus.calc(d), d.hex()
        assert g[1] == Crc16CcittFalse.calc(d), d.hex()
        assert g[2] == hi, d.hex()
        # without the zero bytes it is M(x) mod P: XMODEM of all but the last 2 bytes, xor them
        tail = int.from_bytes(d[-2:], "big")
        assert g[3] == (Crc16Xmodem.calc(d[:-2]) ^ tail if len(d) >= 2 else tail), d.hex()
        assert g[4] == c32 and g[5] == c32, d.hex()
        assert g[6] == c32.to_bytes(4, "little").hex()
        assert g[7] is True  # the appended CRC checks
        assert g[8] is False  # and no longer does with one bit flipped
