"""The display feature on the meter (app.Meter._attach_features): builds meter.display_mgr on
the board's display and returns its supervised refresh task."""


def attach(meter):
    from screens.manager import DisplayManager

    display = getattr(meter.hw, "display", None)
    mgr = DisplayManager(meter, display)
    meter.display_mgr = mgr
    shown = getattr(display, "shown", None)  # unix_sim displays draw what their glass shows
    meter.display_text = shown if shown is not None else mgr.text
    return [("display", mgr.run)] if display is not None else []
