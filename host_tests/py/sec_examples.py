"""MicroPython: print the worked examples of docs/smitp_security.md, computed by the firmware
(smitp.security behind mac.link.Mac, exactly as the meter runs it). Not a pytest module:
test_smitp_security_ref.py runs it, compares its output with the document and re-derives every
line with the independent `cryptography` model.

The application behind the security layer is scripted (each example states its answer ATTR and
DATA), so the examples show the sealing only; message layouts are docs/smitp.md's.
"""

import sec_fixture as fx
import storekeys
from smitp import crypto, security, tmac

LMON0 = 41
DCU_T = fx.T_NOW - 10  # the concentrator's clock in its requests


def h(b):
    return " ".join("%02x" % x for x in b)


class Scripted:
    def __init__(self, sec):
        self.sec = sec
        self.answer = None  # (attr, data) the application gives the next AUTH request

    def handle(self, lsdu, ctx):
        r = self.sec.open(lsdu, ctx.ecc)
        if r.kind == security.ANSWER:
            ctx.ecc_out = r.ecc_out
            return r.answer
        if r.kind != security.AUTH:
            return None
        out = self.sec.seal(r, self.answer[0], self.answer[1])
        ctx.ecc_out = r.ecc_out
        return out


def build():
    st = fx.Stack()
    st.store.put(storekeys.LMON, LMON0.to_bytes(8, "big"))
    st.sec = security.Security(st.store, fx.ACA, (fx.K_WRITE, fx.K_READ), st.hw.rtc.seconds)
    app = Scripted(st.sec)
    st.mac.app = app.handle
    return st, app


def body_plain(lsdu, ecc, mon, answer):
    key = fx.K_WRITE if ecc & 4 else fx.K_READ
    body = bytes(lsdu[1:])
    if ecc & 3 == 2:
        return crypto.ecb_decrypt(key, body)
    return crypto.ctr(key, tmac.ctr_iv(fx.ACA, mon, answer), body)


def sealed_lines(side, lsdu, ecc, mon):
    """The derivation of one sealed LSDU, as the document lists it."""
    answer = side == "answer"
    plain = body_plain(lsdu, ecc, mon, answer)
    data, dt = plain[:-16], plain[-16:-8]
    crc = tmac.crc32(fx.ACA + data + dt)
    print("%s_ecc: %d" % (side, ecc))
    print("%s_attr: %02x" % (side, lsdu[0]))
    print("%s_data: %s" % (side, h(data)))
    print("%s_dt: %s" % (side, h(dt)))
    print("%s_crc32: %08x" % (side, crc))
    print("%s_m: %s" % (side, h(tmac.tmac_block(lsdu[0], fx.ACA, mon, crc))))
    print("%s_tmac: %s" % (side, h(plain[-8:])))
    if ecc & 3 != 2:
        print("%s_iv: %s" % (side, h(tmac.ctr_iv(fx.ACA, mon, answer))))
    print("%s_lsdu: %s" % (side, h(lsdu)))


def lsdu_of(frame):
    return bytes(frame[11:])  # no route: LT ADDRESS(6) CTL Reserved INF-control INF-LSAP


def auth(st, app, name, ecc, mon, attr, data, answer, request=None):
    req = request or fx.request(attr, data, mon, ecc, dt=DCU_T.to_bytes(8, "little"))
    app.answer = answer
    f = fx.frame(req, ecc)
    out = st.exchange(f)
    print("example: " + name)
    print("lmon_before: %d" % (mon - 1))
    print("mon: %d" % mon)
    sealed_lines("request", req, ecc, mon)
    print("request_frame: " + h(f))
    sealed_lines("answer", lsdu_of(out), out[10] & 15, mon)
    print("answer_frame: " + h(out))
    print("lmon_after: %d" % st.sec.lmon)
    print()
    return req, f, out


def main():
    st, app = build()
    status = bytes(8)
    r1, f1, a1 = auth(st, app, "read-ctr", 1, 42, 102, b"\x00\x3f", (103, status))
    out = st.exchange(f1)
    print("example: duplicate")
    print("request_frame: " + h(f1))
    print("answer_frame: " + h(out))
    print("same_as_read_ctr: %s" % ("yes" if out == a1 else "no"))
    print("lmon_after: %d" % st.sec.lmon)
    print()
    auth(st, app, "write-ctr", 5, 43, 104, b"\x00\x50\x00\x00\x0e\x10", (243, b""))
    # ECC 6 / ECC 2 requests can only carry empty DATA (one ECB block); no message of
    # docs/smitp.md has an empty APDU, so the AL answers a sealed NACK 3 (bad length), which
    # carries DATA and is therefore sealed in CTR with the same key (ECC 5 / ECC 1).
    auth(st, app, "command-ecb", 6, 44, 118, b"", (245, b"\x03"))
    auth(st, app, "ecb-request-ctr-answer", 2, 45, 108, b"", (245, b"\x03"))
    lm = st.sec.lmon
    etm = r1[-8:]
    nack = ("etm: " + h(etm),)
    ecb_answer(st, "nack-auth", (), f1, lm, nack, b"\x0a" + etm, 245, 2)
    print()
    nonce = bytes(range(0xA0, 0xB0))
    chl = b"\x70\x12\x34" + nonce
    ecb_answer(
        st, "challenge", ("request_lsdu: " + h(chl),), fx.frame(chl, 0), lm, (), nonce, 113, 3
    )


def ecb_answer(st, name, head, f, lm, extra, crc_tail, attr, clear):
    """NACK-auth / CHALLENGE.RESP: `clear` bytes before the ECB block; CRC over ACA | crc_tail."""
    out = st.exchange(f)
    crc = tmac.crc32(fx.ACA + crc_tail)
    print("example: " + name)
    for line in head:
        print(line)
    print("request_frame: " + h(f))
    print("lmon: %d" % lm)
    for line in extra:
        print(line)
    print("crc32: %08x" % crc)
    print("m: " + h(tmac.tmac_block(attr, fx.ACA, lm, crc)))
    print("plain: " + h(crypto.ecb_decrypt(fx.K_READ, lsdu_of(out)[clear:])))
    print("answer_lsdu: " + h(lsdu_of(out)))
    print("answer_frame: " + h(out))


main()
