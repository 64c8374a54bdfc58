"""docs/phy.md against an independent transmitter written from it, the firmware and the bench data.

tools/phy_doc_encoder.py implements the document's formulas T1..T9 in numpy and imports nothing
from the firmware. These tests check that it reproduces every value of the worked vectors printed
in docs/phy.md, that the firmware transmitter produces the same DAC codes sample for sample (for
both vectors and other lengths), that the firmware receiver decodes both vectors, and that the
measured-figures block of the document is exactly what the committed bench JSON renders to.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools import channel, phy_doc_encoder, phy_doc_figures, phy_mp  # noqa: E402

DOC = (ROOT / "docs" / "phy.md").read_text()


def _section(title):
    i = DOC.index(title)
    j = DOC.find("\n### ", i + 1)
    return DOC[i : j if j > 0 else len(DOC)]


def _row(sec, label):
    m = re.search(r"^\| " + re.escape(label) + r"[^|]*\| (.*) \|$", sec, re.M)
    assert m, label
    return m.group(1)


def _hexbytes(s):
    return bytes.fromhex(s.strip("`").replace(" ", ""))


VECTORS = []
for title, phase in (("### Vector 1", 45.0), ("### Vector 2", 120.0)):
    sec = _section(title)
    payload = _hexbytes(re.search(r"Payload: `([0-9a-f ]+)`", sec).group(1))
    VECTORS.append((title, sec, payload, phase))


def _codes(s):
    return [int(x) for x in s.replace(",", " ").split() if x.isdigit()]


@pytest.mark.parametrize("vec", VECTORS, ids=["vector1", "vector2"])
def test_doc_encoder_reproduces_the_printed_vector(vec):
    title, sec, payload, phase = vec
    f = phy_doc_encoder.frame_bits(payload)
    d = phy_doc_encoder.dac_codes(payload, phase)
    crc = _row(sec, "CRC-32 of the payload")
    assert crc.startswith("`0x%08X`" % f["crc32"])
    assert _hexbytes(crc.split("as ")[1]) == f["crc32"].to_bytes(4, "little")
    assert _hexbytes(_row(sec, "header LEN, FLAGS, CRC-8")) == f["header"]
    assert _hexbytes(_row(sec, "payload + CRC after whitening")) == f["whitened"]
    assert _row(sec, "coded header (60)").strip("`") == "".join(map(str, f["coded_header"]))
    first = _row(sec, "first 64 coded payload bits").strip("`")
    assert first == "".join(map(str, f["coded_payload"][:64]))
    tot = _row(sec, "total")
    n_sym = len(f["bits"])
    assert tot == "%d symbols, %d DAC samples, %.3f ms" % (n_sym, 36 * n_sym, n_sym / 9.6)
    label = "DAC codes at the start of the first header symbol (sample 2880)"
    assert label in sec
    assert _codes(_row(sec, label)) == d[2880:2888].tolist()
    tab = _section("### The first 16 DAC codes after the ramp")
    k = 1 if title.endswith("1") else 2
    assert _codes(_row(tab, "vector %d" % k)) == d[72:88].tolist()


def test_doc_encoder_vector1_preamble_and_sync_bits():
    sec = VECTORS[0][1]
    f = phy_doc_encoder.frame_bits(VECTORS[0][2])
    row = _row(sec, "preamble + sync bits (1 = symbol −1)")
    assert row.endswith("`" + "".join(map(str, f["sync"])) + "`")
    assert f["preamble"] == [k & 1 for k in range(48)]


def test_doc_vector1_edges_and_symbol_table():
    d = phy_doc_encoder.dac_codes(VECTORS[0][2], 45.0)
    m = re.search(r"first 4 codes of vector 1 are ([\d, ]+) and its last 4 are ([\d, ]+)", DOC)
    assert _codes(m.group(1)) == d[:4].tolist() and _codes(m.group(2)) == d[-4:].tolist()
    for n, sym, samples in re.findall(
        r"^\| (\d+) \| (\d+) \| (\d+) \| [\d.]+ ms \| \d+ \|$", DOC, re.M
    ):
        n = int(n)
        assert int(sym) == 16 * n + 216 == len(phy_doc_encoder.frame_bits(bytes(n))["bits"])
        assert int(samples) == 36 * int(sym)


def test_doc_encoder_is_independent():
    src = (ROOT / "tools" / "phy_doc_encoder.py").read_text()
    imports = [ln for ln in src.splitlines() if re.match(r"(import|from) ", ln)]
    assert imports == ["import numpy as np"]


def test_doc_encoder_known_checks():
    assert phy_doc_encoder.crc32(b"123456789") == 0xCBF43926
    assert phy_doc_encoder.crc8(b"123456789") == 0xF4
    assert phy_doc_encoder.pn9(20).hex(" ") in DOC


@pytest.fixture(scope="module")
def firmware_tx():
    """Firmware DAC codes (Unix MicroPython) of both vectors and of a few other lengths."""
    rng = np.random.default_rng(9)
    extra = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in (1, 2, 128, 255)]
    out = {}
    for _, _, payload, phase in VECTORS:
        out[(payload, phase)] = phy_mp.tx_frames([payload], phase_deg=phase)
    codes = phy_mp.tx_frames(extra)
    p = 0
    for fr in extra:
        n = (16 * len(fr) + 216) * 36
        out[(fr, 45.0)] = codes[p : p + n]
        p += n
    assert p == len(codes)
    return out


def test_firmware_tx_equals_doc_encoder(firmware_tx):
    for (payload, phase), fw in firmware_tx.items():
        ref = phy_doc_encoder.dac_codes(payload, phase)
        assert len(fw) == len(ref)
        assert np.array_equal(fw, ref), (len(payload), phase, int(np.argmax(fw != ref)))


def test_firmware_rx_decodes_both_vectors(firmware_tx):
    segs = []
    for i, (_, _, payload, phase) in enumerate(VECTORS):
        segs.append(channel.channel(firmware_tx[(payload, phase)], ebn0_db=12.0, seed=i))
    r = phy_mp.rx_samples(np.concatenate(segs))
    assert [f[0] for f in r["frames"]] == [v[2] for v in VECTORS]


def test_doc_figures_are_the_committed_bench_data():
    d = json.loads(phy_doc_figures.DATA.read_text())
    assert phy_doc_figures.doc_block(DOC) == phy_doc_figures.render(d)
