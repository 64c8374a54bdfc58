"""Register getters (kind F) of the virtual billing registers (0x15xx) and of the maximum
demand per tariff (0x161x, 0x162x): computed from meter.billing and the last billing data set.
"""

import struct

# offsets in a billing data set (docs/tariffs.md §7): A+ at 5, A- at 9, T1..T4 at 13..25
_ENERGY_OFF = (5, 9, 13, 17, 21, 25)


def _since_close(m, i):
    from tariff.billing import energies

    now = energies(m)[i]
    last = m.model.tables[0x1400].last()
    base = 0 if last is None else struct.unpack_from(">I", last, _ENERGY_OFF[i])[0]
    return struct.pack(">I", (now - base) & 0xFFFFFFFF)


def period(i):
    """Getter of the energy i (0 A+, 1 A-, 2..5 A+ in tariff 1..4) since the last close."""
    return lambda m: _since_close(m, i)


def _md(m, which, t):
    # app.Meter attaches billing before it serves a request; a Model on a meter without the
    # tariff feature (the security layer's test stand-ins read every register) has no maxima
    b = getattr(m, "billing", None)
    return struct.pack(">I", 0 if b is None else (b.md_t if which else b.md_w)[t - 1])


def demand_w(t):
    return lambda m: _md(m, 0, t)


def demand_time(t):
    return lambda m: _md(m, 1, t)
