"""Which meters relay a download flood, from which copy, in which slot (docs/download.md §5.6).

    p = plan(levels, parents, heard, need=None)
    p.relays -> {relay ACA: (source ACA, offset)}; p.period -> slots per block

Inputs, all keyed by ACA in wire order (the master is six zero bytes, level 0):
- levels:  {meter: hops from the concentrator} (its route length + 1, from discovery);
- parents: {meter: the last repeater of its route, or the master};
- heard:   {meter: {transmitter: (sig dBuV, snr quarter dB)}} — register 0x0205 of the meters
           read; a meter missing here (not read, or nothing in it) is served by its route parent;
- need:    the meters that must get the blocks (default: every meter).

Bottom-up, level by level: the level-(k+1) meters that need the blocks (and the level-(k+1)
relays chosen before) are covered by as few level-k relays as possible (greedy set cover over
what each meter heard with SNR >= MIN_SNR_QDB); each is served by the strongest relay chosen
that it heard. Two relays of a level conflict when a meter served by one hears the other less
than CAPTURE_DB weaker; conflicting relays get different colours (greedy, most conflicts
first), each colour its own slot. Slot offsets run level after level: the concentrator 0,
level 1 colours 1..c1, level 2 the next c2, ... A period of P slots is at least the slots of any
three consecutive levels, so every two groups less than three levels apart send at different
offsets modulo P (a meter hears level k-1, k and k+1) and the groups three levels apart reuse
the slot. No firmware code: the meters only follow download_relay FROM and DELAY.
"""

from __future__ import annotations

MASTER = bytes(6)
CAPTURE_DB = 6  # tools/medium.py: a copy survives an overlap when >= 6 dB stronger
MIN_SNR_QDB = 16  # 4 dB: the medium's reliable-link threshold (tools/topology.py)


class Plan:
    def __init__(self):
        self.relays = {}  # relay -> (source, offset)
        self.serve = {}  # meter -> the relay (or master) whose copy it should decode
        self.colours = {}  # level -> colours used
        self.period = 1
        self.last = 0  # largest offset

    def delay_ms(self, relay, slot_ms, source_air_ms):
        """download_relay DELAY of relay: from the end of its source's copy to its own slot."""
        src, off = self.relays[relay]
        src_off = 0 if src == MASTER else self.relays[src][1]
        return (off - src_off) * slot_ms - source_air_ms


def _options(m, lower, parents, heard):
    """The level-(k) nodes meter m can decode: what it heard well among `lower`, else its
    route parent (discovery reached it through that one)."""
    h = heard.get(m) or {}
    opts = {r for r, (_sig, snr) in h.items() if r in lower and (snr == 255 or snr >= MIN_SNR_QDB)}
    return opts or {parents[m]}


def _sig(heard, m, r):
    e = (heard.get(m) or {}).get(r)
    return e[0] if e else None


def plan(levels, parents, heard, need=None):
    p = Plan()
    need = set(levels if need is None else need)
    depth = max(levels.values(), default=0)
    by_level = {k: {m for m, lv in levels.items() if lv == k} for k in range(1, depth + 1)}
    by_level[0] = {MASTER}
    chosen = {}
    for k in range(depth - 1, -1, -1):
        targets = sorted(m for m in by_level[k + 1] if m in need)
        opts = {m: _options(m, by_level[k], parents, heard) for m in targets}
        picked = set()
        uncovered = set(targets)
        for m in targets:  # one way in only: that relay is needed whatever else is chosen
            if len(opts[m]) == 1:
                picked |= opts[m]
        uncovered -= {m for m in targets if opts[m] & picked}
        while uncovered:
            best = max(
                sorted({r for m in uncovered for r in opts[m]}),
                key=lambda r: sum(1 for m in uncovered if r in opts[m]),
            )
            picked.add(best)
            uncovered -= {m for m in uncovered if best in opts[m]}
        for m in targets:
            cand = sorted(opts[m] & picked)
            p.serve[m] = max(cand, key=lambda r: (_sig(heard, m, r) or -1, r))
        chosen[k] = picked
        need |= picked
    # colours: a meter hears another relay of its server's level within the capture margin
    for k in range(1, depth):
        rel = sorted(chosen.get(k, ()))
        conf = {r: set() for r in rel}
        for m, r in p.serve.items():
            if levels.get(m) != k + 1:
                continue
            s = _sig(heard, m, r)
            for r2, (sig2, _snr) in (heard.get(m) or {}).items():
                if r2 != r and r2 in conf and (s is None or sig2 > s - CAPTURE_DB):
                    conf[r].add(r2)
                    conf[r2].add(r)
        colour = {}
        for r in sorted(rel, key=lambda r: (-len(conf[r]), r)):
            used = {colour[x] for x in conf[r] if x in colour}
            c = 0
            while c in used:
                c += 1
            colour[r] = c
        p.colours[k] = 1 + max(colour.values(), default=-1)
        base = 1 + sum(p.colours[j] for j in range(1, k))
        for r in rel:
            p.relays[r] = (p.serve[r], base + colour[r])
    groups = [1] + [p.colours[k] for k in range(1, depth)]
    p.period = max(sum(groups[i : i + 3]) for i in range(len(groups)))
    p.last = max((off for _src, off in p.relays.values()), default=0)
    return p


def parse_neighbours(v: bytes):
    """Register 0x0205 -> {transmitter ACA: (sig dBuV, snr quarter dB)} (free entries, all
    zero, dropped)."""
    if len(v) % 8:
        raise ValueError("neighbours: length %d is not a multiple of 8" % len(v))
    out = {}
    for o in range(0, len(v), 8):
        e = v[o : o + 8]
        if e[6]:
            out[bytes(e[:6])] = (e[6], e[7])
    return out
