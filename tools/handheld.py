"""Hand-held unit: Original-SMITP over a meter's optical port (the local profile, "mode F").

    python tools/handheld.py --tcp 127.0.0.1:7021 --auth keys.json read cutoff_delay_s
    python tools/handheld.py --serial /dev/pts/5 --auth keys.json write cutoff_delay_s 30
    python tools/handheld.py --tcp 127.0.0.1:7021 --auth keys.json command relay_disconnect

Written from docs/optical.md ("Mode F") and docs/smitp*.md only: it shares no code with the
firmware. LSDUs are built and checked by tools/smitp_ref.py (AES/CMAC from `cryptography`), the
frame check is CRC-16/CCITT-FALSE from the standard library (binascii.crc_hqx with init FFFF).

Session: sign-on `/?!` at 300 Bd 7E1, identification, option select `ACK 0 Z F`, then 8N1 at
the agreed rate: READ of the meter's ACA (0x0003) in clear, CHALLENGE to learn its LMON, the
requests, and the break `SOH B 0 ETX q`. On TCP (unix_sim) a 7E1 character travels as one octet
whose bit 7 is the even-parity bit; on a serial device (a real head, or tools/optical_pty.py,
which follows the mode switch itself) the UART does that.
"""

from __future__ import annotations

import argparse
import binascii
import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import smitp_ref as ref  # noqa: E402

START = 0x68
BREAK = b"\x01B0\x03q"
ECCS = (0, 1, 2, 5, 6)
BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)
SWITCH_S = 0.3  # wait after the option select before the first frame at the new rate


class LinkError(ConnectionError):
    """No (valid) answer from the meter."""


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 1021, init FFFF): binascii's CRC-CCITT with that start value."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def frame(ecc: int, lsdu: bytes) -> bytes:
    """68 | L | ECC | LSDU | CRC-16 big-endian over L ECC LSDU."""
    lsdu = bytes(lsdu)
    if not 1 <= len(lsdu) <= 128 or ecc not in ECCS:
        raise ValueError("LSDU of 1..128 bytes, ECC 0, 1, 2, 5 or 6")
    body = bytes((len(lsdu), ecc)) + lsdu
    return bytes((START,)) + body + crc16(body).to_bytes(2, "big")


def unframe(data: bytes) -> tuple[int, bytes]:
    """(ECC, LSDU) of one whole frame; ValueError when it does not check."""
    if len(data) < 6 or data[0] != START or len(data) != data[1] + 5:
        raise ValueError("not a frame")
    if crc16(data[1:-2]) != int.from_bytes(data[-2:], "big") or data[2] not in ECCS:
        raise ValueError("frame check failed")
    return data[2], bytes(data[3:-2])


def parity7(c: int) -> int:
    return (bin(c & 0x7F).count("1") & 1) << 7


class TcpLine:
    """unix_sim's optical port: 7E1 as octets with bit 7 = even parity, raw octets in 8N1."""

    def __init__(self, host, port, timeout_s=5.0):
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.seven = True

    def set_8n1(self, on: bool, baud: int):
        self.seven = not on  # a TCP link has no rate

    def write(self, data: bytes):
        if self.seven:
            data = bytes((c & 0x7F) | parity7(c) for c in data)
        self.sock.sendall(data)

    def read(self, timeout_s: float) -> bytes:
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return b""
        if not data:
            raise LinkError("the meter closed the optical link")
        if self.seven:
            bad = [c for c in data if (c & 0x80) != parity7(c)]
            if bad:
                raise LinkError(f"parity error from the meter: {bytes(bad).hex()}")
            data = bytes(c & 0x7F for c in data)
        return data

    def close(self):
        self.sock.close()


class SerialLine:
    """A serial device (pyserial): the optical head's UART, or the pty of tools/optical_pty.py.

    The port always runs 8N1: a 7E1 character is the same 10 bits as an 8N1 character whose
    bit 7 is the even-parity bit, so in 7E1 the parity bit is added here on writing and masked
    off on reading (not checked: through the pty bridge, which checks it itself, it arrives
    stripped; a Linux pty also refuses CS7/PARENB settings)."""

    def __init__(self, path):
        import serial

        self.port = serial.Serial(path, 300, timeout=0)
        self.seven = True

    def set_8n1(self, on: bool, baud: int):
        self.seven = not on
        if self.port.baudrate != baud:
            self.port.baudrate = baud

    def write(self, data: bytes):
        if self.seven:
            data = bytes((c & 0x7F) | parity7(c) for c in data)
        self.port.write(data)
        self.port.flush()

    def read(self, timeout_s: float) -> bytes:
        self.port.timeout = timeout_s
        first = self.port.read(1)
        if not first:
            return b""
        self.port.timeout = 0
        data = first + self.port.read(4096)
        return bytes(c & 0x7F for c in data) if self.seven else data

    def close(self):
        self.port.close()


class Handheld:
    """One optical session with one meter."""

    def __init__(self, line, keys: ref.Keys | None = None, answer_timeout_s=2.0):
        self.line = line
        self.keys = keys
        self.timeout_s = answer_timeout_s
        self.ident = None
        self.master = None
        self.resyncs = 0

    # --- bytes ---

    def _read_until(self, done, timeout_s) -> bytes:
        buf = b""
        end = time.monotonic() + timeout_s
        while not done(buf):
            left = end - time.monotonic()
            if left <= 0:
                raise LinkError(f"no answer (got {buf.hex() or 'nothing'})")
            buf += self.line.read(left)
        return buf

    def sign_on(self, address: str = "", max_baud: int = 9600):
        """`/?addr!` at 300 Bd, identification, `ACK 0 Z F`: the link is 8N1 from here."""
        self.line.set_8n1(False, 300)
        self.line.write(b"/?" + address.encode() + b"!\r\n")
        ident = self._read_until(lambda b: b.endswith(b"\r\n"), 3.0)
        if not ident.startswith(b"/") or len(ident) < 7:
            raise LinkError(f"not an identification: {ident!r}")
        self.ident = ident.decode().strip()
        z = min(ident[4], 0x30 + BAUDS.index(max_baud))
        if not 0x30 <= z <= 0x36:
            raise LinkError(f"meter offers no mode C/E rate ({chr(ident[4])!r})")
        self.line.write(bytes((0x06, 0x30, z, 0x46, 0x0D, 0x0A)))
        time.sleep(SWITCH_S)  # the meter switches after the LF: let it
        self.line.set_8n1(True, BAUDS[z - 0x30])
        return self.ident

    def exchange(self, ecc: int, lsdu: bytes) -> tuple[int, bytes]:
        """One request frame and its answer frame: (answer ECC, answer LSDU)."""
        self.line.write(frame(ecc, lsdu))

        def whole(b):
            i = b.find(bytes((START,)))
            return i >= 0 and len(b) - i >= 2 and len(b) - i >= b[i + 1] + 5

        buf = self._read_until(whole, self.timeout_s)
        i = buf.find(bytes((START,)))
        try:
            return unframe(buf[i : i + buf[i + 1] + 5])
        except ValueError as e:
            raise LinkError(f"{e}: {buf.hex()}")

    def close(self):
        """The break: the meter is back at 300 Bd 7E1 idle once its line is free; a new sign-on
        waits for that as for any format switch."""
        self.line.write(BREAK)
        time.sleep(SWITCH_S)
        self.line.set_8n1(False, 300)

    # --- SMITP ---

    def start(self, keys_for=None):
        """Learn the meter's ACA (READ 0x0003 in clear), take its keys (keys_for(aca), else
        self.keys) and learn its LMON (CHALLENGE). Returns the ACA."""
        ecc, ans = self.exchange(0, bytes((ref.READ_REQ,)) + ref.read_req(0x0003))
        if ecc != 0 or len(ans) != 7 or ans[0] != ref.READ_RESP:
            raise LinkError(f"ACA read answered {ans.hex()}")
        aca = ans[1:]
        if keys_for is not None:
            self.keys = keys_for(aca)
        self.master = ref.Master(aca, self.keys)
        if self.keys is not None:
            rep = self._send(self.master.challenge())
            if rep.lmon is None:
                raise LinkError("CHALLENGE refused")
        return aca

    def _send(self, req: ref.Request) -> ref.Reply:
        ecc, ans = self.exchange(req.ecc, req.lsdu)
        return self.master.reply(req, ans, ecc)

    def call(self, attr: int, apdu: bytes = b"", ecc: int = 0) -> ref.Reply:
        rep = self._send(self.master.request(attr, apdu, ecc))
        if ecc and rep.nack == ref.NACK_AUTH:  # counter moved meanwhile (the powerline)
            self.resyncs += 1
            rep = self._send(self.master.request(attr, apdu, ecc))
        return rep

    def read(self, obj: int, ecc: int = 0) -> bytes:
        rep = self.call(ref.READ_REQ, ref.read_req(obj), ecc)
        if not rep.ok:
            raise LinkError(f"READ {obj:#06x}: NACK {rep.nack}")
        return rep.fields["value"]

    def write(self, obj: int, value: bytes, ecc: int = ref.ECC_CTR_WRITE) -> ref.Reply:
        return self.call(ref.WRITE_REQ, ref.write_req(obj, value), ecc)

    def command(self, code, *args, ecc: int = ref.ECC_CTR_WRITE) -> ref.Reply:
        return self.call(ref.COMMAND_REQ, ref.command_req(code, *args), ecc)


def open_line(a):
    if a.tcp:
        host, port = a.tcp.rsplit(":", 1)
        return TcpLine(host, port)
    return SerialLine(a.serial)


def main(argv=None):
    from tools.dcu_keys import KeyFile
    from tools.dcu_registers import RegisterTable, decode_value, encode_value

    ap = argparse.ArgumentParser(description="SMITP over the optical port (mode F)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tcp", help="host:port of a unix_sim meter's optical port")
    g.add_argument("--serial", help="serial device (optical head, or tools/optical_pty.py)")
    ap.add_argument("--auth", metavar="KEYFILE", help="keys (docs/concentrator.md key file)")
    ap.add_argument("--address", default="", help="sign-on address (the meter's serial)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("read", help="READ registers by name or id")
    p.add_argument("regs", nargs="+")
    p = sub.add_parser("write", help="WRITE one register (write key)")
    p.add_argument("reg")
    p.add_argument("value")
    p = sub.add_parser("command", help="COMMAND by name or code (write key)")
    p.add_argument("name")
    p.add_argument("args", nargs="*")
    a = ap.parse_args(argv)
    regs = RegisterTable.load()
    line = open_line(a)
    out = {}
    try:
        h = Handheld(line)
        out["ident"] = h.sign_on(a.address)
        keys = KeyFile.load(a.auth) if a.auth else None
        aca = h.start(keys.for_meter if keys else None)
        out["aca"] = aca.hex()
        ecc_r = ref.ECC_CTR_READ if a.auth else 0
        if a.cmd == "read":
            vals = []
            for name in a.regs:
                r = regs.find(name)
                v = h.read(r.id, ecc_r)
                vals.append({"reg": r.name, "hex": v.hex(), "value": decode_value(r, v)})
            out["values"] = vals
        elif a.cmd == "write":
            r = regs.find(a.reg)
            rep = h.write(r.id, encode_value(r, a.value, regs))
            out["written" if rep.ok else "refused"] = r.name if rep.ok else rep.nack
        else:
            code = int(a.name, 0) if a.name[0].isdigit() else a.name
            rep = h.command(code, *[int(x, 0) for x in a.args])
            out["command" if rep.ok else "refused"] = a.name if rep.ok else rep.nack
        h.close()
    except (LinkError, ref.SmitpError, KeyError, ValueError, OSError) as e:
        print(f"handheld: {e}", file=sys.stderr)
        return 1
    finally:
        line.close()
    print(json.dumps(out, indent=1, default=str))
    return 0 if "refused" not in out else 1


if __name__ == "__main__":
    sys.exit(main())
