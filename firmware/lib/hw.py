"""The hardware a board hands to the application: a plain bag of already-built drivers."""


class Hardware:
    """Attributes set by the board's build(): name, clock, phy, flash, rtc, optical, display,
    relay, led. A board without a peripheral leaves it None and the app skips that feature."""

    def __init__(self, name, **drivers):
        self.name = name
        self.clock = None
        self.phy = None
        self.flash = None
        self.rtc = None
        self.optical = None
        self.display = None
        self.relay = None
        self.led = None
        for k in drivers:
            setattr(self, k, drivers[k])

    def __repr__(self):
        parts = []
        for k in ("phy", "flash", "rtc", "optical", "display", "relay"):
            v = getattr(self, k)
            parts.append("%s=%s" % (k, type(v).__name__ if v is not None else "-"))
        return "<Hardware %s %s>" % (self.name, " ".join(parts))
