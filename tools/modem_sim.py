"""Simulated certified M&M modem speaking the host interface (HI) over TCP on 127.0.0.1.

Written separately from firmware/lib/phy/hostif.py (bitwise CRC, byte-at-a-time parser) so the
two check each other. One host connection at a time. Behaviour:

- ACK good frames, NACK bad CRC; a 0x03 retransmission of the request just executed is ACKed
  and answered again without executing it twice.
- Ping echoes its payload; MIB read/write with size (WPL) and value (WPV) checks; keys (MIB 8)
  are write-only; BIO_Reset answers CFM, clears the volatile MIBs (LMON) and sends its IND.
- Slave/Master_Data.REQ -> CFM(ReqID); with `loopback` the frame comes back as an IND, with
  `peer` (another ModemSim) it is delivered to that modem's host.
- Frames we send wait 40 ms for the host's ACK and are resent (0x03) up to 2 times on NACK or
  timeout.
- Fault injection: corrupt_tx(n), ignore_rx(n) (act deaf), nack_rx(n), busy(n), no_cfm(n),
  mute, garbage between frames, send_status(), deliver().

Standalone: python tools/modem_sim.py [--port N] [--loopback] prints "PORT <n>" and serves.
"""

import argparse
import random
import select
import socket
import threading
import time

STX, STX_RETRY, ACK, NACK, STATUS = 0x02, 0x03, 0x06, 0x15, 0x3F
ACK_TIMEOUT_S = 0.040
ICT_S = 0.010
TX_RETRIES = 2

ERR_CRC, ERR_WPL, ERR_WPV, ERR_BUSY, ERR_COMMAND = 1, 2, 3, 4, 5
ERR_NOT_PRESENT, ERR_DISABLED = 6, 7

# MIB index -> (size, writable, readable)
MIB_DEF = {
    3: (2, True, True),
    4: (8, False, True),
    6: (22, True, True),
    7: (6, True, True),
    8: (32, True, False),
    9: (1, True, True),
    10: (8, True, True),
    12: (9, True, True),
}


def hi_crc(data):
    """Remainder of M(x) mod x^16+x^12+x^5+1, MSB first, init 0 (equals the HI table form)."""
    r = 0
    for byte in data:
        for i in range(7, -1, -1):
            r = ((r << 1) | ((byte >> i) & 1)) & 0x1FFFF
            if r & 0x10000:
                r ^= 0x11021
    return r


def build_frame(cmd, payload, retry=False):
    body = bytes([len(payload) - 1, cmd]) + bytes(payload)
    c = hi_crc(body)
    return bytes([STX_RETRY if retry else STX]) + body + bytes([c & 0xFF, c >> 8])


def default_mibs():
    return {
        3: bytes([0, 0]),
        4: b"SIM01.00",
        6: b"SIMSERIAL0000001" + bytes([1, 2, 3, 4, 5, 6]),
        7: bytes(6),
        8: bytes(32),
        9: bytes([0]),
        10: bytes(8),
        12: bytes([20, 0, 0xE8, 0x03, 0, 0, 0xFA, 0, 0xFF]),  # TEL 20, Delay 1000, TC 250, TCT FF
    }


class ModemSim:
    def __init__(self, port=0, loopback=False, seed=0, verbose=False):
        self.loopback = loopback
        self.peer = None
        self.mibs = default_mibs()
        self.rssi, self.snr_q2, self.in_phase = 75, 40, True
        self.verbose = verbose
        self.rng = random.Random(seed)
        # faults (counts of frames still to affect)
        self.faults = {"corrupt_tx": 0, "ignore_rx": 0, "nack_rx": 0, "busy": 0, "no_cfm": 0}
        self.mute = False
        self.garbage = False
        # observations
        self.log = []  # (direction, cmd, payload, retry) of good frames
        self.acks_rx = 0
        self.nacks_rx = 0
        self.crc_errors = 0
        self.duplicates = 0
        self.lost = 0  # our frames given up after retries
        self.data_requests = []
        self.executed = 0
        self._lock = threading.RLock()
        self._outq = []
        self._cur = None  # [frame, tries, deadline]
        self._wire = bytearray()  # bytes queued to the socket
        self._last_req = None
        self._last_resp = []
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", port))
        self._srv.listen(1)
        self.port = self._srv.getsockname()[1]
        self._conn = None
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._reset_parser()

    # --- control (called from tests) -----------------------------------------------------------

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        self._thread.join(2)
        self._srv.close()

    def fault(self, name, n=1):
        with self._lock:
            self.faults[name] = n

    def deliver(self, data, rssi=None, snr_q2=None, in_phase=None, protocol=0):
        """Send data to our host as a Slave_Data.IND (as if received on the line)."""
        rssi = self.rssi if rssi is None else rssi
        snr = self.snr_q2 if snr_q2 is None else snr_q2
        ph = self.in_phase if in_phase is None else in_phase
        payload = bytes([protocol, rssi & 0xFF, snr & 0xFF, 1 if ph else 0]) + bytes(data)
        with self._lock:
            self._queue(0x26, payload)

    def send_status(self, status, mask):
        with self._lock:
            self._wire += bytes([STATUS, status, mask & 0xFF, mask >> 8])

    def send_raw(self, data):
        with self._lock:
            self._wire += bytes(data)

    def connected(self):
        return self._conn is not None

    # --- host -> modem parsing -----------------------------------------------------------------

    def _reset_parser(self):
        self._st = 0  # 0 idle, 1 len, 2 cmd, 3 payload, 4 crc lo, 5 crc hi
        self._retry = False
        self._len = 0
        self._cmd = 0
        self._pl = bytearray()
        self._crc = 0
        self._last_byte_t = 0.0

    def _rx_byte(self, b, now):
        if self._st and now - self._last_byte_t > ICT_S:
            self._reset_parser()
        self._last_byte_t = now
        st = self._st
        if st == 0:
            if b == ACK:
                self.acks_rx += 1
                if self._cur is not None:
                    self._cur = None
            elif b == NACK:
                self.nacks_rx += 1
                if self._cur is not None:
                    self._resend(now)
            elif b in (STX, STX_RETRY):
                self._retry = b == STX_RETRY
                self._st = 1
        elif st == 1:
            self._len = b + 1
            self._pl = bytearray()
            self._st = 2
        elif st == 2:
            self._cmd = b
            self._st = 3
        elif st == 3:
            self._pl.append(b)
            if len(self._pl) == self._len:
                self._st = 4
        elif st == 4:
            self._crc = b
            self._st = 5
        else:
            self._crc |= b << 8
            self._st = 0
            body = bytes([self._len - 1, self._cmd]) + bytes(self._pl)
            if hi_crc(body) != self._crc:
                self.crc_errors += 1
                self._wire.append(NACK)
                return
            self._on_frame(self._cmd, bytes(self._pl), self._retry, now)

    def _on_frame(self, cmd, payload, retry, now):
        if self.mute:
            return
        if self.faults["ignore_rx"] > 0:
            self.faults["ignore_rx"] -= 1
            return
        if self.faults["nack_rx"] > 0:
            self.faults["nack_rx"] -= 1
            self._wire.append(NACK)
            return
        self._wire.append(ACK)
        self.log.append(("rx", cmd, payload, retry))
        if self.verbose:
            print("sim rx %02X %s%s" % (cmd, payload.hex(), " (retry)" if retry else ""))
        if retry and self._last_req == (cmd, payload) and self._last_resp:
            self.duplicates += 1
            for c, p in self._last_resp:
                self._queue(c, p)
            return
        self._last_req = (cmd, payload)
        self._last_resp = []
        self._execute(cmd, payload)

    def _answer(self, cmd, payload):
        self._last_resp.append((cmd, payload))
        self._queue(cmd, payload)

    def _execute(self, cmd, p):
        if self.faults["no_cfm"] > 0:
            self.faults["no_cfm"] -= 1
            return
        ncfm = {0x08: 0x0B, 0x0C: 0x0F, 0x24: 0x27, 0x28: 0x2B}.get(cmd)
        if self.faults["busy"] > 0:
            self.faults["busy"] -= 1
            if ncfm is not None:
                self._answer(ncfm, bytes([ERR_BUSY]))
            else:
                self._answer(0x36, bytes([ERR_BUSY]))
            return
        self.executed += 1
        if cmd == 0x2C:  # Ping
            self._answer(0x2D, p)
        elif cmd == 0x0C:  # MIB read: index -> index | data
            idx = p[0]
            d = MIB_DEF.get(idx)
            if len(p) != 1:
                self._answer(ncfm, bytes([ERR_WPL]))
            elif d is None:
                self._answer(ncfm, bytes([ERR_NOT_PRESENT]))
            elif not d[2]:
                self._answer(ncfm, bytes([ERR_DISABLED]))
            else:
                self._answer(0x0D, bytes([idx]) + self.mibs[idx])
        elif cmd == 0x08:  # MIB write: index | data -> index
            idx, data = p[0], p[1:]
            d = MIB_DEF.get(idx)
            if d is None:
                self._answer(ncfm, bytes([ERR_NOT_PRESENT]))
            elif not d[1]:
                self._answer(ncfm, bytes([ERR_DISABLED]))
            elif len(data) != d[0]:
                self._answer(ncfm, bytes([ERR_WPL]))
            elif idx == 12 and data[8] == 0:  # TCT 0 is rejected (facts section 4)
                self._answer(ncfm, bytes([ERR_WPV]))
            else:
                self.mibs[idx] = bytes(data)
                self._answer(0x09, bytes([idx]))
        elif cmd in (0x24, 0x28):  # Slave/Master data: Protocol | ReqID | LLC
            if len(p) < 3:
                self._answer(ncfm, bytes([ERR_WPL]))
                return
            proto, req_id, llc = p[0], p[1], p[2:]
            self.data_requests.append(bytes(llc))
            self._answer(cmd + 1, bytes([req_id]))
            ind = bytes([proto, self.rssi, self.snr_q2 & 0xFF, 1 if self.in_phase else 0]) + llc
            if self.loopback:
                self._queue(cmd + 2, ind)
            if self.peer is not None:  # the receiving modem measures its own metrics
                pr = self.peer
                pind = bytes([proto, pr.rssi, pr.snr_q2 & 0xFF, 1 if pr.in_phase else 0]) + llc
                with pr._lock:
                    pr._queue(0x26 if cmd == 0x28 else 0x2A, pind)
        elif cmd == 0x3C:  # BIO reset
            self._answer(0x3D, bytes([0]))
            self.mibs[10] = bytes(8)  # LMON is not restored after a reset
            self._queue(0x3E, bytes([0]))
        else:
            self._answer(0x36, bytes([ERR_COMMAND]))

    # --- modem -> host sending -----------------------------------------------------------------

    def _queue(self, cmd, payload):
        self._outq.append(build_frame(cmd, payload))

    def _emit(self, frame, retry):
        if retry:
            frame = bytes([STX_RETRY]) + frame[1:]
        if self.garbage:
            noise = bytes(
                b
                for b in self.rng.randbytes(self.rng.randrange(1, 8))
                if b not in (ACK, NACK, STATUS)
            )
            self._wire += noise
        if self.faults["corrupt_tx"] > 0:
            self.faults["corrupt_tx"] -= 1
            bad = bytearray(frame)
            bad[-1] ^= 0x5A
            frame = bytes(bad)
        self._wire += frame

    def _resend(self, now):
        frame, tries, _ = self._cur
        if tries >= TX_RETRIES:
            self.lost += 1
            self._cur = None
            return
        self._cur = [frame, tries + 1, now + ACK_TIMEOUT_S]
        self._emit(frame, True)

    def _pump(self, now):
        if self._cur is not None and now >= self._cur[2]:
            self._resend(now)
        if self._cur is None and self._outq and not self.mute:
            frame = self._outq.pop(0)
            self._cur = [frame, 0, now + ACK_TIMEOUT_S]
            self._emit(frame, False)
            self.log.append(("tx", frame[2], frame[3:-2], False))

    # --- socket loop ---------------------------------------------------------------------------

    def _serve(self):
        self._srv.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
            self._run(conn)
            self._conn = None
            conn.close()

    def _run(self, conn):
        while not self._stop:
            r, _, _ = select.select([conn], [], [], 0.002)
            now = time.monotonic()
            with self._lock:
                if r:
                    try:
                        data = conn.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        return
                    for b in data:
                        self._rx_byte(b, now)
                self._pump(now)
                if self._wire:
                    try:
                        conn.sendall(bytes(self._wire))
                    except OSError:
                        return
                    self._wire = bytearray()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--loopback", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    sim = ModemSim(a.port, loopback=a.loopback, verbose=a.verbose).start()
    print("PORT", sim.port, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
