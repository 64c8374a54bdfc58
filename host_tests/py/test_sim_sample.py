"""Sample-level medium: a meter running the firmware soft PHY (SoftPhy over
drivers.sim.sample_link) answers the concentrator; waveforms go through tools/channel.py."""

import json
import subprocess

from tools import concentrator as dcu
from tools import topology as topogen
from tools.medium import Topology, serve_in_thread
from tools.mpenv import ROOT, micropython_exe, mp_env


def test_one_exchange_on_waveforms(tmp_path):
    topo = Topology(topogen.chain(1))  # concentrator - M1, SNR 15 dB
    med, th = serve_in_thread(topo, seed=2)
    m1 = topo.nodes["M1"]
    cfg = {"aca": m1.aca.hex(), "state_dir": str(tmp_path), "seed": 4,
           "medium": f"sample:127.0.0.1:{med.port}"}  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    p = subprocess.Popen(
        [micropython_exe(), "firmware/main.py", "--config", str(tmp_path / "m.json")],
        env=mp_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        link = dcu.MediumLink("127.0.0.1", med.port, topo.master().aca)
        c = dcu.Concentrator(link, topo.master().aca)
        node = dcu.Node(m1.aca, [], [None], [None])
        status = c.read_status(node)
        link.close()
        th.join(30)
    finally:
        p.terminate()
        out = p.communicate(timeout=5)[0]
    assert med.error is None, med.error
    assert med.sample is not None and med.sample.n == 2  # both frames went through the channel
    assert len(status) == 16, (status, out)
    assert 10 < node.read_snr < 20  # the firmware receiver's estimate of the 15 dB link
