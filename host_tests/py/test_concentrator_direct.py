"""The concentrator on one meter's direct TCP link (drivers.sim.tcp_link, real time)."""

from direct_meter import running_meter

from tools import concentrator as dcu
from tools import mm_frame as mm

ACA = "4d4d00004201"


def test_direct_link_discovery_and_read(tmp_path):
    # a short RC slot keeps the meter's REQADDR round (64 slots) at about 1.3 s of real time
    with running_meter(tmp_path, aca=ACA, tc_ms=20, seed=5) as m:
        link = dcu.DirectLink("127.0.0.1", m.port, connect_timeout_s=10)
        c = dcu.Concentrator(link, opts=dcu.Options(tc_ms=20, empty_rounds=1))
        c.discover()
        c.read_all()
        # a frame the meter must reject gets no answer; a plain unknown object gets a NACK
        ans = c.exchange(bytes.fromhex(ACA), [], mm.DISC_RA1, mm.DSAP_APP, b"\x02\x77\x77")
        link.close()
    res = c.result()
    assert [n["aca"] for n in res["nodes"]] == [ACA], m.output
    node = res["nodes"][0]
    assert node["hops"] == 1 and node["path"] == []
    assert node["hop_snr_db"] == [None]  # no link metrics on a TCP link (255 = unknown)
    assert len(node["status"]) == 16
    assert res["stats"]["silenced"] == 1
    assert res["stats"]["reqaddr_rounds"] >= 1
    # every exchange answered at the first try (counts, not wall time)
    assert res["stats"]["timeouts"] == 0 and res["stats"]["retries"] == 0, res["stats"]
    assert ans and ans[0][0].attr == mm.NACK_A
