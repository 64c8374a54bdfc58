"""Soft B-PSK PHY (profile v1, see docs/phy.md): profile constants, tx/rx chains, SoftPhy.

Import the pieces you need (`from phy import profile`, `from phy.softphy import SoftPhy`);
importing the package itself does no work and allocates nothing beyond the module.
"""
