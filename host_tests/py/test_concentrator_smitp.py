"""System tests: the concentrator's SMITP session (tools/smitp_ref.py on the wire) against real
`micropython firmware/main.py` meters, on a direct TCP link and through the simulated medium."""

import contextlib
import json
import re

import pytest
from direct_meter import running_meter

from tools import concentrator as dcu
from tools import mm_frame as mm
from tools import smitp_ref as ref
from tools.dcu_keys import KeyFile, State
from tools.dcu_registers import encode_value, reg_type
from tools.medium import Topology
from tools.mpenv import ROOT
from tools.sim import Section

ACA = bytes.fromhex("4d4d00004201")
KEY_W = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
KEY_R = bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf")
KEYS = ref.Keys(KEY_W, KEY_R)
KEYFILE = {"default": {"key_write": KEY_W.hex(), "key_read": KEY_R.hex()}}


@contextlib.contextmanager
def _meter(state_dir):
    """One meter with our keys on a direct TCP link (flash in state_dir); yields its port."""
    with running_meter(state_dir, aca=ACA.hex(), key_write=KEY_W.hex(), key_read=KEY_R.hex()) as m:
        yield m.port


@pytest.fixture
def direct_meter(tmp_path):
    with _meter(tmp_path) as port:
        yield port


def _session(link, aca=ACA, route=(), state=None):
    c = dcu.Concentrator(link)
    return c, dcu.MeterSession(c, aca, route, KEYS, state or State(None))


def status_clear_and_authenticated(s):
    plain = s.status(ref.ECC_CLEAR)
    assert len(bytes.fromhex(plain["word"])) == 8
    for ecc in (ref.ECC_CTR_READ, ref.ECC_CTR_WRITE):
        lmon = s.lmon
        auth = s.status(ecc)
        assert auth == plain  # same word and decoded flags, now verified by its TMAC
        assert s.lmon == lmon + 1
    return plain


def replay_refused_then_challenge(s):
    """An old authenticated request replayed is refused with a NACK-auth that carries the
    meter's LMON (verified against that request); a concentrator that lost its counter
    resynchronises by CHALLENGE and then works without any NACK-auth."""
    old = s.master.request(ref.READ_REQ, ref.read_req(0x003F), ref.ECC_CTR_READ)
    assert s._send(old).ok
    s.status(ref.ECC_CTR_READ)  # the meter's LMON moves past the old request's MON
    res = s.conc.exchange(s.aca, s.route, mm.DISC_RA7, mm.DSAP_APP, old.lsdu, ecc=old.ecc)
    ans = res[0][0]
    assert (ans.attr, ans.ecc) == (ref.NACK_A_AUTH, ref.ECC_ECB_READ)
    assert ref.open_nack_auth(KEYS, s.aca, ans.lsdu, old.lsdu) == s.lmon
    meter_lmon = s.lmon
    s.master.lmon = 0  # state lost
    assert s.challenge() == meter_lmon
    before = s.resyncs
    s.status(ref.ECC_CTR_READ)
    assert s.resyncs == before and s.lmon == meter_lmon + 1


def stale_counter_recovers_by_nack_auth(s):
    s.master.lmon = max(0, s.lmon - 3)
    before = s.resyncs
    s.status(ref.ECC_CTR_READ)
    assert s.resyncs == before + 1


# --- writes, clock, tables, every register (docs/datamodel.md) ---

T2090 = 2840227200  # 2090-01-01 00:00:00 UTC in seconds since 2000 (in the future: not activated)


def _test_value(reg, regs):
    """A valid value different from the default for a writable register, from the rule column
    of docs/datamodel.md (ranges 'lo..hi' -> hi, 'one of a, b' -> the last; no rule -> 7)."""
    t = reg_type(reg)
    rule = reg.extra.get("rule", "")
    if t == "ascii":
        return encode_value(reg, ("RT " + reg.name)[: reg.size])
    if t == "objlist":
        return encode_value(reg, "status_word,clock", regs)
    if t == "bytes":
        return bytes(range(1, reg.size + 1))
    if t == "time":
        return T2090.to_bytes(4, "big")
    m = re.search(r"one of ([-\d, ]+)$", rule) or re.search(r"(-?\d+)\s*$", rule)
    v = int(m.group(1).split(",")[-1]) if m else 7
    return encode_value(reg, str(v))


def writable_registers(regs):
    return [
        r
        for r in regs.regs
        if r.access.endswith("KEY_W") and reg_type(r) not in ("key", "table", "log")
        and r.name != "clock"  # a clock set, checked by the time-sync test
    ]  # fmt: skip


def every_register_round_trips(s):
    """Each writable register: WRITE a new valid value (write key), READ it back equal (read
    key); every other register reads with its size, keys never; tables answer their header."""
    regs = s.regs
    written = {}
    for r in writable_registers(regs):
        v = _test_value(r, regs)
        s.write(r.name, v)
        assert s.read(r.name, ref.ECC_CTR_READ) == v, r.name
        written[r.name] = v
    assert len(written) >= 40
    for r in regs.regs:
        t = reg_type(r)
        if t == "key":
            with pytest.raises(dcu.Refused) as e:
                s.read(r.name, ref.ECC_CTR_WRITE)
            assert e.value.reply.nack == 2
            continue
        v = s.read(r.name, ref.ECC_CTR_READ)
        if t in ("table", "log"):
            hdr = ref.parse_table_header(v)
            assert hdr["recsize"] == r.size, r.name
        elif t != "objlist":
            assert len(v) == r.size, r.name
    return written


def tariff_table_and_clock(s):
    recs = [bytes.fromhex(x) for x in ("00000001", "00070002", "00150001", "01000003")]
    with pytest.raises(dcu.Refused) as e:  # plain write: refused, access
        s.writetab("weekly_tariff", recs, ecc=ref.ECC_CLEAR)
    assert e.value.reply.nack == 2
    with pytest.raises(dcu.Refused) as e:  # the read key does not write
        s.writetab("weekly_tariff", recs, ecc=ref.ECC_CTR_READ)
    assert e.value.reply.nack == 2
    assert s.writetab("weekly_tariff", recs) == 4
    got = s.readtab("weekly_tariff", ecc=ref.ECC_CLEAR)
    assert got["records"] == recs and got["end"] == 4
    now = ref.wall_seconds()
    s.time_sync(now + 3600)  # an hour ahead of the meter's clock
    clock = int.from_bytes(s.read("clock", ref.ECC_CTR_READ), "big")
    assert now + 3600 <= clock < now + 3600 + 60
    assert int.from_bytes(s.read("last_clock_sync"), "big") == now + 3600
    assert "clock_synced" in s.status(ref.ECC_CTR_READ)["flags"]


def test_direct_status_replay_challenge(direct_meter):
    link = dcu.DirectLink("127.0.0.1", direct_meter, connect_timeout_s=10)
    try:
        c, _ = _session(link)
        aca = dcu.probe_direct(c)
        assert aca == ACA
        _, s = _session(link)
        status_clear_and_authenticated(s)
        replay_refused_then_challenge(s)
        stale_counter_recovers_by_nack_auth(s)
        tariff_table_and_clock(s)
        # RB3: the same meter's B-Node data, answered with ACK B-node (241 authenticated)
        b = dcu.MeterSession(s.conc, ACA, [], KEYS, s.state, disc=mm.DISC_RB3)
        msg = s.regs.find("bnode_message")
        rep = b.call(ref.WRITE_REQ, ref.write_req(msg.id, b"Hi".ljust(msg.size)), 5)
        assert (rep.attr, rep.code) == (ref.ACK_B_AUTH, ref.ACK_B)
    finally:
        link.close()


def test_direct_every_register_round_trips_and_survives_restart(tmp_path):
    with _meter(tmp_path) as port:
        link = dcu.DirectLink("127.0.0.1", port, connect_timeout_s=10)
        try:
            _, s = _session(link)
            written = every_register_round_trips(s)
            lmon = s.lmon
        finally:
            link.close()
    with _meter(tmp_path) as port:  # same flash: the values and LMON persisted
        link = dcu.DirectLink("127.0.0.1", port, connect_timeout_s=10)
        try:
            _, s = _session(link)
            s.master.lmon = lmon
            for name, v in written.items():
                assert s.read(name, ref.ECC_CTR_READ) == v, name
            assert s.resyncs <= 1  # LMON may jump ahead by the ceiling window, never back
        finally:
            link.close()


def test_direct_cli_json_status_and_lmon_state(direct_meter, tmp_path, capsys):
    kf = tmp_path / "keys.json"
    kf.write_text(json.dumps(KEYFILE))
    st = tmp_path / "state.json"
    base = ["--direct", f"127.0.0.1:{direct_meter}", "--state", str(st), "--json"]
    assert dcu.main(base + ["status"]) == 0
    plain = json.loads(capsys.readouterr().out)[ACA.hex()]
    assert plain["authenticated"] is False and isinstance(plain["flags"], list)
    assert dcu.main(base + ["--auth", str(kf), "status"]) == 0
    auth = json.loads(capsys.readouterr().out)[ACA.hex()]
    assert auth["authenticated"] is True and auth["word"] == plain["word"]
    assert State(st).lmon(ACA) == auth["lmon"] == 1
    # a second run starts from the state file's LMON: no NACK-auth, LMON 2
    assert dcu.main(base + ["--auth", str(kf), "status"]) == 0
    assert json.loads(capsys.readouterr().out)[ACA.hex()]["lmon"] == 2
    # the state file lost (reset to 0): challenge resynchronises
    st.write_text(json.dumps({"version": 1, "meters": {ACA.hex(): {"lmon": 0}}}))
    assert dcu.main(base + ["--auth", str(kf), "challenge"]) == 0
    assert json.loads(capsys.readouterr().out)[ACA.hex()]["lmon"] == 2
    # key change under the current write key: the key file is updated, the new keys work
    new_w, new_r = "c0" * 16, "d0" * 16
    assert (
        dcu.main(base + ["--auth", str(kf), "keys", "--new-write", new_w, "--new-read", new_r])
        == 0
    )
    assert json.loads(capsys.readouterr().out)[ACA.hex()]["keys_changed"] == ["write", "read"]
    assert KeyFile.load(kf).for_meter(ACA) == ref.Keys(bytes.fromhex(new_w), bytes.fromhex(new_r))
    assert dcu.main(base + ["--auth", str(kf), "status"]) == 0
    assert json.loads(capsys.readouterr().out)[ACA.hex()]["authenticated"] is True
    # the old keys no longer work: the NACK-auth is sealed with the new read key
    kf.write_text(json.dumps(KEYFILE))
    assert dcu.main(base + ["--auth", str(kf), "status"]) == 1
    assert "error" in json.loads(capsys.readouterr().out)[ACA.hex()]
    # wrong keys: the meter's NACK-auth cannot be verified -> a clear error, exit code 1
    kf.write_text(json.dumps({"default": {"key_write": "00" * 16, "key_read": "11" * 16}}))
    assert dcu.main(base + ["--auth", str(kf), "status"]) == 1
    assert "error" in json.loads(capsys.readouterr().out)[ACA.hex()]


def test_sim_network_four_hops(tmp_path):
    topo = Topology(json.loads((ROOT / "tools" / "topologies" / "chain4.json").read_text()))
    cfg = {"key_write": KEY_W.hex(), "key_read": KEY_R.hex()}
    with Section(topo, tmp_path, seed=3, meter_cfg=cfg) as sec:
        link = sec.master_link()
        try:
            c = dcu.Concentrator(link, topo.master().aca)
            c.discover()
            far = max(c.nodes.values(), key=lambda n: n.hops)
            assert far.hops == 4
            s = dcu.MeterSession(c, far.aca, far.path, KEYS, State(None))
            status_clear_and_authenticated(s)
            replay_refused_then_challenge(s)
            tariff_table_and_clock(s)
            c.secure_all(KeyFile(KEYFILE))
        finally:
            link.close()
        sec.finish()
    assert sec.medium.error is None
    for n in c.nodes.values():
        assert "first_boot" in n.auth_status["flags"], n.auth_status
        assert isinstance(n.clock_step_s, int), n.clock_step_s


def test_sim_network_cli_through_the_medium(tmp_path, capsys):
    """The command line joined to the medium: discovery, then every meter's status word
    authenticated with the per-meter keys of tools/sim.py, LMON and routes in the state file."""
    from tools.sim import meter_keys, write_keyfile

    topo = Topology(json.loads((ROOT / "tools" / "topologies" / "chain4.json").read_text()))
    kf = write_keyfile(topo, 3, tmp_path / "keys.json")
    st = tmp_path / "state.json"
    with Section(topo, tmp_path, seed=3, keys=True) as sec:
        m = topo.master()
        args = ["--medium", f"127.0.0.1:{sec.medium.port}", "--aca", m.aca.hex()]
        rc = dcu.main(args + ["--auth", str(kf), "--state", str(st), "--json", "status"])
        sec.finish()
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    meters = [n for n in topo.nodes.values() if n.role == "meter"]
    assert set(out) == {n.aca.hex() for n in meters}
    assert all(v["authenticated"] and "first_boot" in v["flags"] for v in out.values())
    state = State(st)
    assert all(state.lmon(n.aca) == 1 for n in meters)
    assert max(len(state.route(n.aca)) for n in meters) == 3  # M4 through M1, M2, M3
    assert meter_keys(3, meters[0].aca) != meter_keys(3, meters[1].aca)


def test_direct_cli_every_subcommand(direct_meter, tmp_path, capsys):
    kf = tmp_path / "keys.json"
    kf.write_text(json.dumps(KEYFILE))
    base = ["--direct", f"127.0.0.1:{direct_meter}", "--state", str(tmp_path / "s.json")]
    auth = base + ["--auth", str(kf), "--json"]

    def run(args, rc=0):
        assert dcu.main(args) == rc, args
        return json.loads(capsys.readouterr().out)[ACA.hex()]

    assert run(auth + ["write", "owner_id", "CUSTOMER 7"])["written"] == "owner_id"
    assert run(auth + ["write", "0x0301", "240"])["written"] == "nominal_voltage_v"
    got = run(base + ["--json", "read", "owner_id", "nominal_voltage_v", "clock"])["values"]
    assert [v["value"] for v in got[:2]] == ["CUSTOMER 7", 240]
    assert got[2]["reg"] == "clock" and got[2]["value"]["time"].endswith("Z")
    out = run(auth + ["write", "nominal_frequency_hz", "55"], rc=1)  # rule: 50 or 60
    assert "NACK 6" in out["error"]
    recs = ["00000001", "00070002", "00150001"]
    assert run(auth + ["writetab", "weekly_tariff"] + recs)["records_written"] == 3
    tab = run(base + ["--json", "readtab", "weekly_tariff"])
    assert tab["records"] == recs and tab["end"] == 3
    part = run(base + ["--json", "readtab", "weekly_tariff", "--from", "1", "--to", "1"])
    assert part["records"] == recs[1:2]
    assert run(auth + ["settab", "2", "status_word", "nominal_voltage_v"])["tab"] == 2
    vals = bytes.fromhex(run(base + ["--json", "gettab", "2"])["values"])
    assert len(vals) == 8 + 2 and vals[-2:] == (240).to_bytes(2, "big")  # status word, voltage
    assert run(auth + ["command", "relay_disconnect"])["command"] == "relay_disconnect"
    assert "relay_open" in run(auth + ["status"])["flags"]
    step = run(auth + ["time-sync", "--time", "2030-01-01T00:00:00Z"])
    assert step["time"] == 10958 * 86400 and step["step_s"] > 0
    assert "clock_synced" in run(auth + ["status"])["flags"]
    assert run(auth + ["command", "clock_adjust", "-30"])["command"] == "clock_adjust"
    small = run(auth + ["time-sync", "--adjust", "--time", "2030-01-01T00:02:00Z"])
    assert 0 < small["step_s"] <= 150
    clock = run(base + ["--json", "read", "clock"])["values"][0]["value"]["value"]
    assert 10958 * 86400 + 120 <= clock < 10958 * 86400 + 180
    big = run(auth + ["time-sync", "--adjust", "--time", "2031-01-01T00:00:00Z"], rc=1)
    assert "NACK 6" in big["error"]  # beyond clock_sync_window_s
    assert "NACK 2" in run(base + ["--json", "command", "relay_reconnect"], rc=1)["error"]
    # deferred writes (SETIC, WRITETABIC), their cancel, RESETTAB, BUFF_SELECT
    later = "2031-01-01T00:00:00Z"
    assert run(auth + ["write", "max_current_a", "80", "--at", later])["scheduled"]
    pend = run(base + ["--json", "read", "pending_activation"])["values"][0]["hex"]
    assert pend == "0302" + (11323 * 86400).to_bytes(4, "big").hex()
    assert (
        "NACK 7"
        in run(auth + ["writetab", "public_holidays", "0c190002", "--at", later], 1)["error"]
    )
    assert run(auth + ["command", "ic_cancel"])["command"] == "ic_cancel"
    assert run(auth + ["writetab", "public_holidays", "0c190002", "--at", later])["at"]
    assert run(auth + ["command", "ic_cancel"])
    assert run(auth + ["reset", "nominal_voltage_v"])["reset"] == "nominal_voltage_v"
    assert run(base + ["--json", "read", "nominal_voltage_v"])["values"][0]["value"] == 230
    assert run(auth + ["reset", "group:0x09"])["reset"] == "group:0x09"
    assert run(base + ["--json", "readtab", "weekly_tariff"])["records"] == ["00000001"]
    # RB3: a write for the B-Node is answered with ACK B-node when the (simulated) B-Node took it
    assert run(auth + ["--bnode", "write", "bnode_message", "Tariff 2"])["written"]
    assert "NACK 6" in run(auth + ["--bnode", "write", "display_scroll_s", "0"], rc=1)["error"]
    loc = run(base + ["--json", "readtab", "weekly_tariff", "--locate"])
    assert (loc["first"], loc["end"], loc["recsize"]) == (0, 1, 4)


def test_sim_lossy_links_authenticated_retries_get_the_cached_answer(tmp_path):
    """30 % of the frames lost: a retry resends the same LSDU with a new exchange tag; when the
    meter had answered (the answer was lost) it sends its cached answer again, so every
    authenticated exchange still completes and LMON stays in step (no NACK-auth needed)."""
    from tools import topology as topogen

    topo = Topology(topogen.star(2, drop=0.3))
    cfg = {"key_write": KEY_W.hex(), "key_read": KEY_R.hex()}
    with Section(topo, tmp_path, seed=5, meter_cfg=cfg) as sec:
        link = sec.master_link()
        try:
            c = dcu.Concentrator(link, topo.master().aca, dcu.Options(retries=10, empty_rounds=4))
            c.discover()
            assert len(c.nodes) == 2
            for node in c.nodes.values():
                s = dcu.MeterSession(c, node.aca, node.path, KEYS, State(None))
                for i in range(6):
                    s.write("display_scroll_s", bytes([10 + i]))
                    assert s.read("display_scroll_s", ref.ECC_CTR_READ) == bytes([10 + i])
                assert s.lmon == 12 and s.resyncs == 0
        finally:
            link.close()
        med = sec.finish()
    assert med["lost_drop"] > 0 and c.stats.retries > 0
