"""tools/medium.py in isolation: FER curve, collision/capture and half-duplex decisions, topology
reading, airtime identical to the firmware's profile (same file, imported under CPython)."""

import json
import math

import pytest

from tools import mm_frame as mm
from tools import topology as topogen
from tools.medium import FerCurve, Medium, Topology, Tx


def test_fer_curve_shape_and_length_scaling(tmp_path):
    c = FerCurve.load(None)  # built-in
    assert c.source == "builtin"
    vals = [c.fer(s, 64) for s in range(-4, 12)]
    assert vals == sorted(vals, reverse=True)  # non-increasing with SNR
    assert vals[0] > 0.99 and vals[-1] == 0.0
    assert c.fer(1.0, 200) > c.fer(1.0, 20)  # longer frames fail more often
    # the PHY benchmark's format: "coded" points of 128-byte frames, a 0 FER point, a plateau
    bench = {"coded": [{"ebn0": 2.0, "fer": 1.0, "frames": 20}, {"ebn0": 4.0, "fer": 0.1,
             "frames": 20}, {"ebn0": 5.0, "fer": 0.1, "frames": 20}, {"ebn0": 6.0, "fer": 0.0,
             "frames": 20}]}  # fmt: skip
    p = tmp_path / "phy.json"
    p.write_text(json.dumps(bench))
    m = FerCurve.load(p)
    assert m.ref_bytes == 128 and m.source == str(p)
    assert m.fer_ref(3.0) == pytest.approx(10**-0.5)
    assert m.fer_ref(6.0) == pytest.approx(0.01)  # 0 of 20 lost -> min(0.5/20, 1e-2)
    assert m.fer_ref(7.0) < m.fer_ref(6.0) / 5  # extrapolated tail keeps falling
    (tmp_path / "bad.json").write_text("{}")
    assert FerCurve.load(tmp_path / "bad.json").source == "builtin"


def _medium(links, capture_db=6.0):
    nodes = [{"id": i, "aca": "4d4d0000%02x01" % k, "phase": 1} for k, i in enumerate("ABCD")]
    nodes[0]["role"] = "master"
    topo = Topology({"tx_level_dbuv": 120, "noise_dbuv": 50, "nodes": nodes, "links": links})
    return Medium(topo, FerCurve.load(None), seed=1, capture_db=capture_db)


def _tx(m, src, start_ms, n=20):
    air = mm.airtime_us(n)
    t = Tx(src, start_ms, start_ms * 1000, start_ms * 1000 + air, -(-(start_ms * 1000 + air)
           // 1000), b"\x00" * n, len(m.txs))  # fmt: skip
    m.txs.append(t)
    return t


def test_collision_and_capture():
    # B hears A at 70 dBuV (SNR 20) and C at 67 (3 dB weaker) or 55 (15 dB weaker)
    m = _medium([{"a": "A", "b": "B", "atten_db": 50}, {"a": "C", "b": "B", "atten_db": 53}])
    a = _tx(m, "A", 0)
    _tx(m, "C", 10)
    ok, level, sinr, why = m._fate(a, "B")
    assert (ok, why) == (False, "collision")
    m = _medium([{"a": "A", "b": "B", "atten_db": 50}, {"a": "C", "b": "B", "atten_db": 65}])
    a = _tx(m, "A", 0)
    _tx(m, "C", 10)
    ok, level, sinr, why = m._fate(a, "B")
    assert ok and why == "ok" and level == 70
    assert sinr == pytest.approx(70 - 10 * math.log10(1e5 + 10**5.5))  # I counted as noise
    # no overlap: the second frame starts when the first has ended
    m = _medium([{"a": "A", "b": "B", "atten_db": 50}, {"a": "C", "b": "B", "atten_db": 53}])
    a = _tx(m, "A", 0)
    _tx(m, "C", a.end_ms)
    assert m._fate(a, "B")[3] == "ok"
    # an interferer B cannot hear (no C-B link) does not matter
    m = _medium([{"a": "A", "b": "B", "atten_db": 50}, {"a": "A", "b": "C", "atten_db": 50}])
    a = _tx(m, "A", 0)
    _tx(m, "C", 5)
    assert m._fate(a, "B")[3] == "ok"


def test_half_duplex_and_forced_drop():
    m = _medium([{"a": "A", "b": "B", "atten_db": 50}])
    a = _tx(m, "A", 0)
    _tx(m, "B", 30)
    assert m._fate(a, "B")[3] == "half_duplex"
    m = _medium([{"a": "A", "b": "B", "atten_db": 50, "drop": 1.0}])
    assert m._fate(_tx(m, "A", 0), "B")[3] == "drop"


def test_topology_snr_links_phase_and_ground_truth():
    t = Topology(topogen.chain(4))
    assert t.rx_level("C", "M1")[1] == pytest.approx(15.0)
    assert t.rx_level("C", "M2") is None
    assert t.hops_from_master() == {"C": 0, "M1": 1, "M2": 2, "M3": 3, "M4": 4}
    assert t.in_phase("C", "M3")  # the concentrator couples on all phases
    g = Topology(topogen.generate(20, 3, seed=1))
    assert max(g.hops_from_master().values()) == 4
    assert all(not aca.hex().endswith("03") for aca in g.by_aca)
    with pytest.raises(ValueError):
        Topology({"nodes": [{"id": "A", "aca": "00"}]})


def test_airtime_is_the_firmware_profile():
    assert mm.PROFILE is not None
    assert mm.airtime_us(12) == mm.PROFILE.airtime_us(12)
    assert mm.airtime_ms(187) == -(-mm.PROFILE.airtime_us(187) // 1000)


def test_clean_clone_uses_the_committed_bench_curve(tmp_path, monkeypatch):
    import tools.medium as med

    monkeypatch.setattr(med, "PHY_BENCH_JSON", tmp_path / "missing.json")
    c = med.FerCurve.load(med.PHY_BENCH_JSON)
    assert c.source.endswith("tools/data/phy_bench.json")
    assert c.fer_ref(2.5) > 0.1 > c.fer_ref(4.5)  # the measured waterfall
