"""tools/dl_plan.py: the relays of a download flood and their slots (docs/download.md §5.6),
checked on hand-made sections and, with the medium's own rules (tools/flood_model.py, which
replays tools/medium.py's capture and FER rules), on a generated 200-meter section."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from tools import dl_plan, flood_model  # noqa: E402
from tools import topology as topogen  # noqa: E402
from tools.medium import FerCurve, Topology  # noqa: E402

M = dl_plan.MASTER


def a(i):
    return bytes((0x4D, 0x4D, 0, 0, i, 1))


def test_chain_one_relay_per_level_three_slots():
    levels = {a(1): 1, a(2): 2, a(3): 3, a(4): 4}
    parents = {a(1): M, a(2): a(1), a(3): a(2), a(4): a(3)}
    heard = {
        a(2): {a(1): (70, 80), a(3): (70, 80)},
        a(3): {a(2): (70, 80)},
        a(4): {a(3): (70, 80)},
    }
    p = dl_plan.plan(levels, parents, heard)
    assert p.relays == {a(1): (M, 1), a(2): (a(1), 2), a(3): (a(2), 3)}
    assert p.period == 3  # level 3 reuses the concentrator's slot
    assert p.last == 3
    assert p.delay_ms(a(1), 300, 250) == 50  # one slot after the concentrator's copy began
    assert p.delay_ms(a(3), 300, 260) == 40


def test_relays_heard_alike_by_a_meter_get_two_slots():
    # a(5) hears only a(1), a(4) only a(2): both relay; a(3) hears both, a(2) only 2 dB
    # weaker than a(1): the two level-1 relays must not send at once
    levels = {a(1): 1, a(2): 1, a(3): 2, a(4): 2, a(5): 2}
    parents = {a(1): M, a(2): M, a(3): a(1), a(4): a(2), a(5): a(1)}
    heard = {
        a(3): {a(1): (72, 90), a(2): (70, 85)},
        a(4): {a(2): (75, 90)},
        a(5): {a(1): (75, 90)},
    }
    p = dl_plan.plan(levels, parents, heard)
    assert set(p.relays) == {a(1), a(2)}
    assert p.serve[a(3)] == a(1)  # the strongest it heard
    offs = sorted(off for _src, off in p.relays.values())
    assert offs == [1, 2]
    assert p.colours == {1: 2}
    assert p.period == 3


def test_far_weaker_interferer_shares_the_slot():
    levels = {a(1): 1, a(2): 1, a(3): 2, a(4): 2}
    parents = {a(1): M, a(2): M, a(3): a(1), a(4): a(2)}
    # a(3) hears a(2) 10 dB below a(1) (and too weak to use): both relay at once
    heard = {a(3): {a(1): (80, 90), a(2): (70, 12)}, a(4): {a(2): (75, 90)}}
    p = dl_plan.plan(levels, parents, heard)
    assert p.colours == {1: 1}
    assert p.relays[a(1)][1] == p.relays[a(2)][1] == 1


def test_set_cover_picks_the_relay_heard_by_most():
    levels = {a(1): 1, a(2): 1, a(3): 2, a(4): 2, a(5): 2}
    parents = {a(1): M, a(2): M, a(3): a(1), a(4): a(1), a(5): a(2)}
    heard = {
        a(3): {a(1): (70, 80), a(2): (75, 80)},
        a(4): {a(1): (70, 80), a(2): (71, 80)},
        a(5): {a(2): (70, 80)},
    }
    p = dl_plan.plan(levels, parents, heard)
    assert set(p.relays) == {a(2)}  # a(2) alone reaches all three


def test_unread_meter_is_served_by_its_route_parent():
    levels = {a(1): 1, a(2): 1, a(3): 2}
    parents = {a(1): M, a(2): M, a(3): a(2)}
    p = dl_plan.plan(levels, parents, {})
    assert set(p.relays) == {a(2)}
    assert p.serve[a(3)] == a(2)


def test_weak_link_is_not_a_way_in():
    levels = {a(1): 1, a(2): 1, a(3): 2}
    parents = {a(1): M, a(2): M, a(3): a(2)}
    heard = {a(3): {a(1): (90, 8), a(2): (60, 60)}}  # a(1) loud but 2 dB above the noise
    assert set(dl_plan.plan(levels, parents, heard).relays) == {a(2)}


def test_only_the_chains_of_needed_meters_relay():
    levels = {a(1): 1, a(2): 1, a(3): 2, a(4): 2, a(5): 3}
    parents = {a(1): M, a(2): M, a(3): a(1), a(4): a(2), a(5): a(4)}
    p = dl_plan.plan(levels, parents, {}, need={a(5)})
    assert set(p.relays) == {a(2), a(4)}
    assert p.relays[a(4)] == (a(2), 2)


def test_parse_neighbours():
    v = bytes.fromhex("0000000000004A504D4D0000020140FF") + bytes(80)
    assert dl_plan.parse_neighbours(v) == {M: (0x4A, 0x50), a(2): (0x40, 0xFF)}


def test_one_pass_for_200_meters_where_the_routes_need_several():
    """The medium's rules on a generated 200-meter section over three repeater levels: the
    plan from the tables the meters would report delivers every block to every meter in one
    pass; relaying along the discovery routes (v1) leaves meters without blocks."""
    topo = Topology(topogen.generate(200, 3, 1))
    curve = FerCurve.load()
    m = flood_model.Model(topo, curve, seed=1)
    slots, left = m.simulate(30, flood_model.neighbour_planner(m))
    assert left == [0]
    assert slots <= 6 * 30 + 10
    m1 = flood_model.Model(topo, curve, seed=1)
    _slots, left1 = m1.simulate(30, flood_model.route_planner(m1), passes=1)
    assert left1[0] > 20


def test_known_map_routes_follow_the_levels():
    """sim_upgrade --known-map: every meter once, its route one repeater per level above it,
    each repeater heard by the next (a link of the topology)."""
    from tools import sim_upgrade

    topo = Topology(topogen.generate(60, 3, 2))
    paths = sim_upgrade.known_map(topo)
    by_aca = {n.aca: i for i, n in topo.nodes.items()}
    levels = topo.hops_from_master()
    assert len(paths) == 60 and len({a for a, _ in paths}) == 60
    for aca, path in paths:
        chain = [topo.master().id] + [by_aca[r] for r in path] + [by_aca[aca]]
        assert len(path) == levels[by_aca[aca]] - 1
        for x, y in zip(chain, chain[1:]):
            assert topo.link(x, y) is not None and levels[y] == levels[x] + 1
