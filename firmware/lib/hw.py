"""The hardware a board hands to the application: a plain bag of already-built drivers.

Each field satisfies one interface of `interfaces.py` (boards wrap port objects in adapters):
clock (ClockSource), phy (Phy), flash (BlockDevice), rtc (Rtc), optical (Serial), display
(Display), relay (Relay), led (Led), watchdog (Watchdog), supply (Supply), bnode (BNodePort),
metrology (Metrology), button (Button), profile_flash (BlockDevice: the profiles' own rings,
docs/profiles.md), slots (list: None, then the two download slots' block devices,
docs/download.md §3).
"""

FIELDS = (
    "clock",
    "phy",
    "flash",
    "rtc",
    "optical",
    "display",
    "relay",
    "led",
    "watchdog",
    "supply",
    "bnode",
    "metrology",
    "button",
    "profile_flash",
    "slots",
)


class Hardware:
    """A board without a peripheral leaves its field None and the app skips that feature."""

    def __init__(self, name, **drivers):
        self.name = name
        for k in FIELDS:
            setattr(self, k, None)
        for k in drivers:
            if k not in FIELDS:
                raise ValueError("unknown hardware field %r" % k)
            setattr(self, k, drivers[k])

    def __repr__(self):
        parts = []
        for k in FIELDS[1:]:
            v = getattr(self, k)
            parts.append("%s=%s" % (k, type(v).__name__ if v is not None else "-"))
        return "<Hardware %s %s>" % (self.name, " ".join(parts))
