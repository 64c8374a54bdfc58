"""Network management, slave side, DSAP 2 (docs/datalink.md §6).

ADDRESS.REQ/RESP (90/91), TCT_SET.REQ (92) with NACK.RESP (247), REQADDR.REQ/RESP (94/95).
The link core (mac.link.Mac) owns timing and the transmit slot; this module decides answers,
keeps TCT (persisted through the injected store), the averaged link metrics and the state of a
local ADDRESS.REQ round started by REQADDR.REQ.
"""

from faults import Faults
from micropython import const
from storekeys import TCT as TCT_KEY

from mac.frame import MAX_FRAME

ADDRESS_REQ = const(90)
ADDRESS_RESP = const(91)
TCT_SET_REQ = const(92)
REQADDR_REQ = const(94)
REQADDR_RESP = const(95)
NACK_RESP = const(247)

TCT_DEFAULT = const(0xFF)
MAX_ANSWERS = const(4)
ENTRY = const(12)  # ACA(6) SIG SNR TX FF FF FF
START_ROUND = const(-1)
UNKNOWN = const(255)

# Round states
IDLE = const(0)
COLLECTING = const(1)
ANSWERING = const(2)


def _clamp(v):
    if v < 0:
        return 0
    if v > 254:
        return 254
    return v


class NetMgmt:
    def __init__(self, aca, al0, stats, store=None, key=TCT_KEY, faults=None):
        self.aca = aca
        self.faults = faults if faults is not None else Faults()
        self.al0 = al0
        self.stats = stats
        self.store = store
        self.key = key
        self.tct = self._load()
        self.sig16 = -1  # averages x16, -1 = unknown
        self.snr16 = -1
        self.tx_imp = UNKNOWN
        self.round = IDLE
        self.deadline = 0
        self.count = 0
        self.answers = bytearray(MAX_ANSWERS * ENTRY)
        self.apdu = bytearray(4)
        self.req = bytearray(MAX_FRAME)
        self.req_len = 0

    # --- TCT ---------------------------------------------------------------------------------

    def _load(self):
        if self.store is None:
            return TCT_DEFAULT
        try:
            v = self.store.get(self.key)
        except Exception as e:
            self.stats.store_err += 1
            self.faults.record(e, "mac.tct_load")
            return TCT_DEFAULT
        if v and len(v) == 1 and v[0] != 0:
            return v[0]
        return TCT_DEFAULT

    def set_tct(self, v):
        if v == self.tct:
            return
        self.tct = v
        if self.store is not None:
            try:
                self.store.put(self.key, bytes((v,)))
            except Exception as e:
                self.stats.store_err += 1
                self.faults.record(e, "mac.tct_store")

    # --- metrics -----------------------------------------------------------------------------

    def observe(self, info):
        """Fold one frame's PHY info (sent directly by a master) into the averages."""
        if info is None:
            return
        r = getattr(info, "rssi", None)
        if r is not None:
            s = _clamp(int(round(r))) << 4
            self.sig16 = s if self.sig16 < 0 else self.sig16 + ((s - self.sig16) >> 2)
        r = getattr(info, "snr", None)
        if r is not None:
            s = _clamp(int(r)) << 4  # PHY info.snr is already in quarter dB
            self.snr16 = s if self.snr16 < 0 else self.snr16 + ((s - self.snr16) >> 2)
        r = getattr(info, "tx_imp", None)
        if r is not None:
            self.tx_imp = r if 0 <= r <= 255 else UNKNOWN

    def metrics_into(self, out, off):
        """Write Av_SIG, Av_SNR, Av_TX at out[off:off+3]."""
        out[off] = UNKNOWN if self.sig16 < 0 else (self.sig16 + 8) >> 4
        out[off + 1] = UNKNOWN if self.snr16 < 0 else (self.snr16 + 8) >> 4
        out[off + 2] = self.tx_imp

    # --- requests ----------------------------------------------------------------------------

    def address_filter(self, phase, tcr, add, shift, in_phase):
        """Should this meter answer an ADDRESS.REQ with these parameters?"""
        if phase == 1:
            if in_phase is not None and not in_phase:
                return False
        elif phase != 2:
            return False
        if self.tct < tcr:
            return False
        if shift > 16:
            shift = 16
        return ((self.al0 + add) & ((1 << shift) - 1)) == 0

    def handle(self, f, in_phase, out):
        """A DSAP-2 request addressed to us. Write an answer LSDU into `out` and return its
        length, 0 for no answer, or START_ROUND (REQADDR.REQ accepted, request copied)."""
        st = self.stats
        if f.ecc != 0:
            st.nm_bad += 1
            return 0
        b = f.buf
        a = f.lsdu + 1
        alen = f.lsdu_len - 1
        attr = f.attr
        if attr == ADDRESS_REQ:
            if alen != 4:
                st.nm_bad += 1
                return 0
            if not self.address_filter(b[a], b[a + 1], b[a + 2], b[a + 3], in_phase):
                st.nm_filtered += 1
                return 0
            out[0] = ADDRESS_RESP
            for i in range(6):
                out[1 + i] = self.aca[i]
            self.metrics_into(out, 7)
            out[10] = 0xFF
            out[11] = 0xFF
            out[12] = 0xFF
            return 1 + ENTRY
        if attr == TCT_SET_REQ:
            ok = alen == 1 and b[a] != 0
            if ok:
                self.set_tct(b[a])
                st.tct_set += 1
            else:
                st.tct_refused += 1
            if not f.poll:
                return 0
            out[0] = NACK_RESP
            out[1] = 0 if ok else 1
            self.metrics_into(out, 2)
            return 5
        if attr == REQADDR_REQ:
            if alen != 4:
                st.nm_bad += 1
                return 0
            if self.round != IDLE:
                st.nm_busy += 1
                return 0
            for i in range(4):
                self.apdu[i] = b[a + i]
            for i in range(f.n):
                self.req[i] = b[i]
            self.req_len = f.n
            return START_ROUND
        st.nm_bad += 1
        return 0

    # --- local ADDRESS.REQ round ---------------------------------------------------------------

    def start_round(self, deadline_ms):
        self.round = COLLECTING
        self.deadline = deadline_ms
        self.count = 0

    def collect(self, f):
        """An uplink NOR frame heard while collecting: keep it if it is a new ADDRESS.RESP."""
        if self.round != COLLECTING:
            return False
        if f.dsap != 2 or f.ecc != 0 or f.attr != ADDRESS_RESP or f.lsdu_len != 1 + ENTRY:
            return False
        if self.count >= MAX_ANSWERS:
            self.stats.nm_extra += 1
            return False
        b = f.buf
        s = f.lsdu + 1
        ans = self.answers
        for k in range(self.count):
            p = k * ENTRY
            same = True
            for i in range(6):
                if ans[p + i] != b[s + i]:
                    same = False
                    break
            if same:
                return False
        p = self.count * ENTRY
        for i in range(ENTRY):
            ans[p + i] = b[s + i]
        self.count += 1
        self.stats.nm_collected += 1
        return True

    def resp_into(self, out, limit):
        """REQADDR.RESP LSDU into out, with as many entries as `limit` bytes allow."""
        n = self.count
        fit = (limit - 2) // ENTRY if limit >= 2 else 0
        if n > fit:
            n = fit
        out[0] = REQADDR_RESP
        out[1] = n
        for i in range(n * ENTRY):
            out[2 + i] = self.answers[i]
        return 2 + n * ENTRY

    def snapshot(self):
        return (self.tct, self.round, self.deadline, self.count)
