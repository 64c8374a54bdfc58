"""Supply cut-off feature (docs/cutoff.md): `attach(meter)` builds `meter.cutoff` on the board's
relay, hooks the contract power limit into `meter.on_second` and, when the board has a button,
returns the press dispatcher task (Seam G)."""


def attach(meter):
    if meter.hw.relay is None:
        meter.cutoff = None  # relay commands answer "not supported"
        return []
    from cutoff.control import Cutoff

    meter.cutoff = Cutoff(meter)
    meter.on_second.append(meter.cutoff.on_second)
    if meter.hw.button is None:
        return []
    return [("button", lambda: dispatch(meter))]


async def dispatch(meter):
    """Every press goes to the cut-off first (a long press re-arms an armed relay), otherwise to
    the display manager when there is one."""
    button = meter.hw.button
    while True:
        kind = await button.wait()
        if meter.cutoff.on_press(kind):
            continue
        dm = getattr(meter, "display_mgr", None)
        if dm is not None:
            dm.on_press(kind)
