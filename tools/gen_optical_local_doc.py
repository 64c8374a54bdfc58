"""Write the mode F example of docs/optical.md (the ```optical-f block): a whole hand-held
session, every frame built by the independent CPython side (tools/smitp_ref.py for the LSDUs,
tools/handheld.py for the frames), the meter's answers predicted by the same reference.
host_tests/mp/test_optical_local_doc.py replays the requests through the firmware and expects
exactly these answers; host_tests/py/test_optical_local_doc.py checks the page is up to date.

    python tools/gen_optical_local_doc.py [--check]

Example meter (docs/smitp_security.md's example keys): ACA 01 02 03 04 05 06, K1 00..0F,
K2 10..1F, LMON 0, clock 850 000 000 s (2026-12-08 00:00:00 UTC), manufacturer OMM, firmware id
MMPY0002; the hand-held unit's DT is the same second and its CHALLENGE nonce T = 00 01,
N = A0..AF.
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import smitp_ref as ref  # noqa: E402
from tools.handheld import BREAK, frame  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "optical.md"
ACA = bytes(range(1, 7))
KEYS = ref.Keys(bytes(range(0x00, 0x10)), bytes(range(0x10, 0x20)))
T0 = 850_000_000
IDENT = b"/OMM5MMPY0002\r\n"
T, N = b"\x00\x01", bytes(range(0xA0, 0xB0))


def session() -> list[tuple[str, str, bytes]]:
    """[(direction '>' or '<', comment, bytes)] of the example session."""
    dt = ref.dt_encode(T0)
    out = [
        (">", "sign-on at 300 Bd 7E1", b"/?!\r\n"),
        ("<", "identification: OMM, 9600 Bd offered, firmware id", IDENT),
        (">", "option select ACK 0 5 F: 9600 Bd 8N1, local profile; no answer", b"\x0605F\r\n"),
    ]
    read_aca = bytes((ref.READ_REQ,)) + ref.read_req(0x0003)
    out.append((">", "READ.REQ 0x0003 (aca) in clear, ECC 0", frame(0, read_aca)))
    out.append(("<", "READ.RESP: the ACA", frame(0, bytes((ref.READ_RESP,)) + ACA)))
    out.append((">", "CHALLENGE.REQ T N, ECC 0", frame(0, ref.challenge_req(T, N))))
    resp = ref.challenge_resp(KEYS, ACA, 0, T, N)
    out.append(("<", "CHALLENGE.RESP: LMON 0 under K2, ECC 2", frame(2, resp)))
    wr = ref.write_req(0x0E02, struct.pack(">H", 30))
    req = ref.seal(KEYS, 5, ref.WRITE_REQ + 100, wr, dt, ACA, 1)
    out.append((">", "WRITE 0x0E02 (cutoff_delay_s) = 30, MON 1, ECC 5 (K1, CTR)", frame(5, req)))
    ack = ref.seal(KEYS, 5, ref.ACK_A_AUTH, b"", dt, ACA, 1, answer=True)
    out.append(("<", "ACK A-node authenticated, ECC 5", frame(5, ack)))
    rd = ref.seal(KEYS, 1, ref.READ_REQ + 100, ref.read_req(0x0E02), dt, ACA, 2)
    out.append((">", "READ.REQ 0x0E02, MON 2, ECC 1 (K2, CTR)", frame(1, rd)))
    ans = ref.seal(KEYS, 1, ref.READ_RESP + 100, struct.pack(">H", 30), dt, ACA, 2, answer=True)
    out.append(("<", "READ.RESP 00 1E, ECC 1", frame(1, ans)))
    out.append((">", "break: back to 300 Bd 7E1 idle", BREAK))
    return out


def block() -> str:
    lines = ["```optical-f"]
    for d, comment, data in session():
        lines.append(f"# {comment}")
        lines.append(f"{d} " + " ".join(f"{b:02X}" for b in data))
    lines.append("```")
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = DOC.read_text()
    new = re.sub(r"```optical-f\n.*?```\n", lambda m: block(), text, flags=re.S)
    if "```optical-f" not in text:
        raise SystemExit("docs/optical.md has no ```optical-f block to fill")
    if "--check" in argv:
        return 0 if new == text else 1
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
