"""MicroPython side of the security system tests (test_smitp_security_kill.py, _fuzz.py); not a
pytest module. Keys, ACA and clock are those of docs/smitp_security.md's examples.

micropython sec_worker.py FLASH WINDOW

Mounts the store on a SimFlash file (3 x 1 KiB blocks), builds smitp.security.Security, prints
`lmon N`, then reads one request per stdin line: `ECC HEX` or `ECC HEX gate`. The application
behind it is a mirror: an AUTH request with ATTR a and DATA d is answered ATTR a + 1, DATA d.
Per request it prints one line, then `state LMON FLASHCRC` (the whole flash file's CRC-32):
  accepted LMON                       (AUTH; with `gate`, it then waits for a line `go`)
  answer ECC_OUT HEX                  (the sealed answer)
  sent REASON ECC_OUT HEX             (ANSWER: NACK-auth, CHALLENGE.RESP, duplicate)
  plain | drop REASON
"""

import sys
from binascii import crc32

from drivers.sim.flash import SimFlash
from smitp import security
from store import Store

ACA = bytes((1, 2, 3, 4, 5, 6))
K_WRITE = bytes(range(0x00, 0x10))
K_READ = bytes(range(0x10, 0x20))
T_NOW = 836_000_000


def out(*a):
    print(*a)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def flash_crc(f, buf):
    c = 0
    for b in range(f.n_blocks):
        f.readblocks(b, buf, 0)
        c = crc32(buf, c)
    return c & 0xFFFFFFFF


def serve(path, window):
    f = SimFlash(path, block_size=1024, n_blocks=3, program_unit=8)
    sec = security.Security(Store(f), ACA, (K_WRITE, K_READ), lambda: T_NOW, window)
    buf = bytearray(1024)
    out("lmon", sec.lmon)
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        w = line.split()
        if not w:
            continue
        ecc = int(w[0])
        lsdu = bytes.fromhex(w[1]) if len(w) > 1 and w[1] != "-" else b""
        r = sec.open(lsdu, ecc)
        if r.kind == security.AUTH:
            out("accepted", sec.lmon)
            if len(w) > 2 and w[2] == "gate":
                sys.stdin.readline()
            a = sec.seal(r, (r.attr + 1) & 0xFF, r.apdu)
            out("answer", r.ecc_out, bytes(a).hex())
        elif r.kind == security.ANSWER:
            out("sent", r.reason, r.ecc_out, bytes(r.answer).hex())
        elif r.kind == security.PLAIN:
            out("plain")
        else:
            out("drop", r.reason)
        out("state", sec.lmon, flash_crc(f, buf))


serve(sys.argv[1], int(sys.argv[2]))
