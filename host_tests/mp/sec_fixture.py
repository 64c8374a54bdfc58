"""Shared by the security tests: example keys/ACA of docs/smitp_security.md, a dict store, and
requests built with the firmware's primitives (the independent check is the CPython
`cryptography` reference in host_tests/py/smitp_sec_ref.py)."""

from smitp import crypto, security, tmac

ACA = bytes((0x01, 0x02, 0x03, 0x04, 0x05, 0x06))
K_WRITE = bytes(range(0x00, 0x10))
K_READ = bytes(range(0x10, 0x20))
T_NOW = 836_000_000  # 2026-06-28 22:13:20 UTC in seconds since 2000: the meter clock


class DictStore:
    """The store's get/put contract in RAM; `fail` makes put raise like a dead flash."""

    def __init__(self):
        self.d = {}
        self.puts = 0
        self.fail = False

    def get(self, key, default=None):
        return self.d.get(key, default)

    def put(self, key, value):
        if self.fail:
            raise OSError(5)
        self.d[key] = bytes(value)
        self.puts += 1


def make(store=None, window=security.LMON_WINDOW, seconds=None):
    store = DictStore() if store is None else store
    now = seconds or (lambda: T_NOW)
    return security.Security(store, ACA, (K_WRITE, K_READ), now, window), store


def request(attr, data, mon, ecc, dt=b"\x00" * 8, kw=K_WRITE, kr=K_READ, aca=ACA):
    """ATTR | E(DATA | DT | TMAC) as a concentrator sends it."""
    key = kw if ecc & 4 else kr
    t = tmac.tmac(key, attr, aca, mon, tmac.crc32(aca + data + dt))
    plain = data + dt + t
    if ecc & 3 == 2:
        enc = crypto.ecb_encrypt(key, plain)
    else:
        enc = crypto.ctr(key, tmac.ctr_iv(aca, mon), plain)
    return bytes((attr,)) + enc
