"""The concentrator's side of the cut-off relay (docs/cutoff.md): disconnect a meter, enable its
reconnection, and read back what the meter says after each step. Used by `make sim
SIMARGS=--cutoff` (tools/sim.py) and the system tests; the frames go through tools/smitp_ref.py
like every other request of tools/concentrator.py."""

from __future__ import annotations

from tools import smitp_ref as ref
from tools.dcu_session import MeterSession

STATES = ("closed", "open_remote", "open_limit", "armed")  # register cutoff_state 0x0D06
RELAY = {0: "open", 1: "closed", 2: "armed", 255: "unknown"}  # register relay_state 0x0D00


def look(s: MeterSession) -> dict:
    """The meter's cut-off as it reports it (plain reads of 0x0D06, 0x0D00 and the status)."""
    st = s.read("cutoff_state")[0]
    return {
        "cutoff_state": STATES[st] if st < len(STATES) else st,
        "relay_state": RELAY.get(s.read("relay_state")[0], "?"),
        "flags": s.status()["flags"],
    }


def disconnect_and_enable(s: MeterSession) -> list[dict]:
    """relay_disconnect then relay_reconnect_enable (authenticated, write key), the state read
    before and after each: the customer can then close the relay with a long button press."""
    steps = [dict(look(s), step="before")]
    for name in ("relay_disconnect", "relay_reconnect_enable"):
        s.command(name, ecc=ref.ECC_CTR_WRITE)
        steps.append(dict(look(s), step=name))
    return steps


ACTIONS = {
    "disconnect": "relay_disconnect",
    "enable": "relay_reconnect_enable",
    "reconnect": "relay_reconnect",
}


def relay(s: MeterSession, action: str) -> dict:
    """`concentrator.py relay ACTION`: the COMMAND (write key), then the state as read back."""
    if action != "show":
        s.command(ACTIONS[action], ecc=ref.ECC_CTR_WRITE)
    got = look(s)
    got["status_flags"] = got.pop("flags")
    return got
