"""MicroPython side of host_tests/py/test_dl_image.py (not a pytest module): the meter's
streaming verifier (dl.image.verify) over an image file, printing its code and manifest.

micropython dl_verify_mp.py IMAGE KEY_HEX BOARD MPY_VERSION MPY_FEATURE RUNNING_VERSION
"""

import hashlib
import sys

from dl import image
from smitp.crypto import CmacStream


def main():
    path, key, board, v, feat, running = sys.argv[1:7]
    f = open(path, "rb")

    def read_at(off, buf):
        f.seek(off)
        f.readinto(buf)

    f.seek(0, 2)
    total = f.tell()
    code, m = image.verify(
        read_at,
        total,
        CmacStream(bytes.fromhex(key)),
        hashlib.sha256,
        board,
        (int(v), int(feat)),
        int(running),
    )
    if m is None:
        print("code", code)
        return
    print(
        "code",
        code,
        m.version,
        m.legal_id.decode(),
        "%08x" % m.legal_crc,
        m.tag.hex() if m.tag else "-",
        "-" if m.bad is None else "%d-%d" % m.bad,
    )


main()
