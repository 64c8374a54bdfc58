"""Time on air of the unix_sim links: a frame takes as long as the soft PHY's profile v1 says
(phy.profile.airtime_us, the figure tools/medium.py uses), rounded up to whole milliseconds, so
the MAC's timing on a simulated link is the timing it has on a real line."""

from phy.profile import airtime_us


def airtime_ms(nbytes):
    return (airtime_us(nbytes) + 999) // 1000
