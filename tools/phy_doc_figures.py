"""The measured figures of docs/phy.md, rendered from the committed bench result.

docs/phy.md carries a block between BEGIN and END below that is exactly render(json) of
tools/data/phy_bench.json (the output of `make bench-phy`, copied there when it is committed);
host_tests/py/test_phy_doc.py checks that, so a figure in the document cannot differ from the
bench data. After a bench run:  python tools/phy_doc_figures.py build/bench/phy.json --write
(copies the JSON to tools/data/ and the plot to docs/img/, and rewrites the block).
"""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "phy.md"
DATA = ROOT / "tools" / "data" / "phy_bench.json"
BEGIN = (
    "<!-- bench figures: tools/phy_doc_figures.py renders this from tools/data/phy_bench.json -->"
)
END = "<!-- end of bench figures -->"


def _e(x):
    return "0" if not x else "%.1e" % x


def render(d):
    L = []
    a = L.append
    a(
        "Bench run: %.0f s on 2 cores (`make bench-phy`, `tools/data/phy_bench.json`)."
        % d["bench_s"]
    )
    a("")
    a("**Waterfall** (128-byte frames, AWGN, ideal front end, 0 ppm, 20 ms of noise around each")
    a("frame; reference = ideal coherent B-PSK + soft Viterbi, `tools/phy_ref.py`):")
    a("")
    a("| Eb/N0 (dB) | " + " | ".join("%g" % c["ebn0"] for c in d["coded"]) + " |")
    a("|---" * (len(d["coded"]) + 1) + "|")
    a("| frames | " + " | ".join(str(c["frames"]) for c in d["coded"]) + " |")
    a("| FER | " + " | ".join("%.3g" % c["fer"] for c in d["coded"]) + " |")
    a(
        "| lost: no sync / CRC | "
        + " | ".join("%d / %d" % (c["lost_nosync"], c["lost_crc"]) for c in d["coded"])
        + " |"
    )
    a(
        "| coded BER, synchronised frames | "
        + " | ".join(_e(c["ber_synced"]) for c in d["coded"])
        + " |"
    )
    a("| reference BER | " + " | ".join(_e(r["ber"]) for r in d["reference"]) + " |")
    a("| reference FER | " + " | ".join("%.2g" % r["fer"] for r in d["reference"]) + " |")
    a("")
    t = d["targets"]
    a(
        "FER 1 %% at **%.2f dB** Eb/N0; coded loss against the reference %.2f dB at FER 1 %%,"
        " %.2f dB at BER 1e-3 (synchronised frames)."
        % (
            t["firmware_ebn0_at_fer_1pct"],
            t["coded_loss_db_at_fer_0.01"],
            t["coded_loss_db_at_ber_0.001"],
        )
    )
    a("")
    a("**No error floor** (128-byte frames, each after noise of random length 0–50 ms):")
    a("")
    a("| Eb/N0 (dB) | frames | lost | FER | wrong through CRC-32 | syncs | header failures |")
    a("|---|---|---|---|---|---|---|")
    for r in d["floor"]:
        lost = r["lost_nosync"] + r["lost_crc"]
        a(
            "| %.0f | %d | %d | %s | %d | %d | %d |"
            % (
                r["ebn0"],
                r["frames"],
                lost,
                _e(r["fer"]),
                r["wrong"],
                r["syncs"],
                r["header_errors"],
            )
        )
    a("")
    a("**False syncs on noise alone** (header decodes started, all rejected by the CRC-8):")
    a("")
    a("| noise | seconds | syncs | per second |")
    a("|---|---|---|---|")
    for r in d["false_syncs"]:
        a(
            "| %s, σ = %.0f codes | %.0f | %d | %.3f |"
            % (r["noise"], r["sigma_codes"], r["seconds"], r["syncs"], r["per_s"])
        )
    a("")
    a("**Robustness** (firmware RX):")
    a("")
    for r in d["robustness"]:
        a(
            "- %s at %.1f dB: %d of %d frames lost"
            % (r["case"], r["ebn0"], r["lost_nosync"] + r["lost_crc"], r["frames"])
        )
    a("")
    a("**Uncoded channel symbols** against Q(√(2Es/N0)):")
    a("")
    a("| Es/N0 (dB) | symbols | BER | theory |")
    a("|---|---|---|---|")
    for u in d["uncoded"]:
        a("| %.1f | %d | %s | %s |" % (u["esn0"], u["syms"], _e(u["ber"]), _e(u["theory"])))
    a("")
    m = d["m4_estimate"]
    p = m["rx_chain_m4_parts_per_sample"]
    b = m["budget_mips"]
    a("**Cortex-M4 estimate of the receive chain** (instructions per sample at 38.4 kHz):")
    a("")
    a("| part | instructions per sample | M instr/s | % of 30 M |")
    a("|---|---|---|---|")
    for k, name in (
        ("kernel_thumb", "mix (asm_thumb)"),
        ("sym", "per-symbol loop `_sym` (asm_thumb)"),
        ("acs_thumb", "Viterbi ACS (asm_thumb)"),
        ("viper_and_bytecode_rest", "viper and bytecode rest"),
    ):
        mi = p[k] * 38400 / 1e6
        a("| %s | %.1f | %.2f | %.1f |" % (name, p[k], mi, 100 * mi / b))
    a(
        "| **total** | **%.1f** | **%.2f** | **%.1f** |"
        % (m["rx_chain_instr_per_sample"], m["mips_with_thumb_kernels"], m["percent_of_budget"])
    )
    a("")
    a(
        "In cycles: %.1f per sample, %.2f M cycles/s, %.1f %% of a 168 MHz Cortex-M4. Emulated"
        " asm_thumb figures: mix %.1f instructions per sample, ACS %.1f per trellis step,"
        " `_sym` %.1f per symbol on the bench stream."
        % (
            m["rx_chain_cycles_per_sample_est"],
            m["rx_chain_mcycles_per_s_est"],
            m["percent_of_168mhz_est"],
            m["kernel_thumb_instr_per_sample_emulated"],
            m["acs_thumb_instr_per_step_emulated"],
            m["sym_thumb_instr_per_symbol_emulated"],
        )
    )
    a("")
    dt = m["decode_longest_frame"]
    a(
        "**Decode of the longest frame** (255 bytes, %d trellis steps), done inside one `feed()`:"
        " unix port %.2f ms; Cortex-M4 estimate %.2f M instructions, %.2f M cycles ="
        " **%.1f ms** at 168 MHz, against a capture block of %d samples = %.2f ms. The STM32"
        " capture ring therefore holds 4 blocks (53.3 ms) and is read by position: the receive"
        " task may fall 3 blocks (40 ms) behind without losing a sample."
        % (
            dt["acs_steps_payload"],
            dt["unix_payload_decode_ms"],
            dt["m4_decode_instr_est"] / 1e6,
            dt["m4_decode_cycles_est"] / 1e6,
            dt["m4_decode_ms_at_168mhz_est"],
            dt["block"],
            dt["half_period_ms"],
        )
    )
    a("")
    a(
        "Throughput on the unix port (x86-64): RX %.0f× real time, TX %.0f× real time; heap per"
        " received frame %d bytes."
        % (d["rx_realtime_x"], d["tx_realtime_x"], d["heap_bytes_per_rx_frame"])
    )
    return "\n".join(L) + "\n"


def doc_block(text):
    i = text.index(BEGIN) + len(BEGIN) + 1
    return text[i : text.index(END)]


def main():
    src = Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else DATA
    d = json.loads(src.read_text())
    if "--write" in sys.argv:
        if src.resolve() != DATA.resolve():
            shutil.copy(src, DATA)
            png = src.parent / "phy_ber.png"
            if png.exists():
                shutil.copy(png, ROOT / "docs" / "img" / "phy_ber.png")
        text = DOC.read_text()
        i = text.index(BEGIN) + len(BEGIN) + 1
        DOC.write_text(text[:i] + render(d) + text[text.index(END) :])
    else:
        print(render(d))


if __name__ == "__main__":
    main()
