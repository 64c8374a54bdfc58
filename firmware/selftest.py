"""On-board self-test: `import selftest; selftest.run()` at the REPL of any board.

Checks that need no peripherals and touch nothing persistent: AES-CMAC and AES-CTR against
RFC 4493 / SP 800-38A vectors, the store on a RAM flash (with a simulated power cut), the
data-link codec on a fixed frame, the PHY per-sample kernel (asm_thumb vs viper on stm32) and
the direct-ADC metering kernel (the same way, metrology/adc_selftest.py).
"""

import sys


class RamFlash:
    """NOR flash in RAM with the extended block protocol; `budget` bytes of programming are
    allowed before it raises, which is how the test cuts the power mid-write."""

    def __init__(self, block_size=1024, n_blocks=3):
        self.bs = block_size
        self.n = n_blocks
        self.mem = bytearray(b"\xff" * (block_size * n_blocks))
        self.budget = -1

    def readblocks(self, block, buf, off=0):
        a = block * self.bs + off
        buf[:] = self.mem[a : a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        a = block * self.bs + off
        for i in range(len(buf)):
            if self.budget == 0:
                raise OSError(5)  # the power is gone
            if self.budget > 0:
                self.budget -= 1
            self.mem[a + i] &= buf[i]

    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return self.bs
        if op == 6:
            a = arg * self.bs
            self.mem[a : a + self.bs] = b"\xff" * self.bs
            return 0
        return 0


def check_crypto():
    from smitp import crypto

    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    ok = crypto.cmac(key, msg) == bytes.fromhex("070a16b46b4d4144f79bdd9dd04a287c")
    iv = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    ok = ok and crypto.ctr(key, iv, msg) == bytes.fromhex("874d6191b620e3261bef6864990db6ce")
    return ok


def check_store():
    from store import Store

    flash = RamFlash()
    s = Store(flash)
    s.put(1, b"committed")
    flash.budget = 10  # power cut 10 bytes into the next write
    try:
        s.put(1, b"half-written value")
    except OSError:
        pass
    flash.budget = -1
    return Store(flash).get(1) == b"committed"


def check_mac():
    from mac import frame

    f = frame.Frame()
    out = bytearray(64)
    aca = b"\x01\x02\x03\x04\x05\x06"
    route = b"\x11\x12\x13\x14\x15\x16"
    n = frame.encode(out, aca, 2, route, False, 3, 0, True, 0, 0, b"\x02\x00\x3f")
    if f.parse(memoryview(out)[:n]) != frame.OK:
        return False
    return f.nrp == 1 and f.tag == 3 and f.poll and bytes(f.lsdu_mv()) == b"\x02\x00\x3f"


def check_phy():
    from phy import selftest

    return selftest.run(verbose=False)


def check_adc():
    from metrology import adc_selftest

    return adc_selftest.run()


CHECKS = (
    ("crypto", check_crypto),
    ("store", check_store),
    ("mac", check_mac),
    ("phy", check_phy),
    ("adc", check_adc),
)


def run():
    """Print one line per check; return True when all pass."""
    ok = True
    for name, fn in CHECKS:
        try:
            good = fn()
        except Exception as e:
            good = False
            print(name, "error:", repr(e))
        print("%-7s %s" % (name, "ok" if good else "FAIL"))
        ok = ok and good
    return ok


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
