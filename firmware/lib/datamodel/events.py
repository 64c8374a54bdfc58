"""Event log codes (table 0x1300, record TIME(4) | CODE(2) | DATA(2)) and the one way to log.

Codes are ours (docs/datamodel.md, Events). DATA is code specific, u16 (signed for steps).
"""

from micropython import const

BOOT = const(0x0001)  # DATA: boot count & 0xFFFF
CLOCK_SET = const(0x0010)  # DATA: step in seconds, clamped to i16
CLOCK_ADJUST = const(0x0011)  # DATA: step in seconds, clamped to i16
ACTIVATION = const(0x0012)  # SETIC/WRITETABIC took effect; DATA: object id
CONTRACT_SWITCH = const(0x0013)  # contract 2 became contract 1; DATA: its plan
RESET_DEFAULTS = const(0x0014)  # RESETTAB; DATA: the object id / group selector
KEY_CHANGED = const(0x0015)  # DATA: 1 write key, 2 read key, 3 download key
TABLE_PROGRAMMED = const(0x0016)  # WRITETAB committed; DATA: object id
PARAM_WRITTEN = const(0x0017)  # WRITE/SETTAB; DATA: object id
BILLING_CLOSE = const(0x0020)  # on command; DATA: billing_count & 0xFFFF
BILLING_SCHEDULED = const(0x0021)  # scheduled close (docs/tariffs.md); DATA: billing_count
BILLING_CONTRACT = const(0x0022)  # close at contract 2's start; DATA: billing_count
RELAY_OPENED = const(0x0030)  # remote disconnect
RECONNECT_ENABLED = const(0x0031)
RELAY_CLOSED = const(0x0032)  # DATA: 1 remote reconnect, 2 button, 3 automatic
LIMIT_TRIP = const(0x0033)  # contract power limit; DATA: power at the trip, 10 W units
CONTACT_MISMATCH = const(0x0034)  # at boot the contact disagreed with the state; DATA: contact
LOG_CLEARED = const(0x0040)  # DATA: records dropped & 0xFFFF
SYNC_FREEZE = const(0x0041)
MAX_DEMAND_RESET = const(0x0042)
# energy, power quality and power failure (docs/metering.md §7)
METROLOGY_FAULT = const(0x0050)  # a front-end fault episode starts; DATA: 1 read failed, 2 refused
METROLOGY_OK = const(0x0051)  # the episode ends; DATA: its length in metering seconds (u16 clamp)
POWER_FAIL = const(0x0052)  # supply loss, savers ran; DATA: their time in 0.1 ms (u16 clamp)
POWER_RESTORED = const(0x0053)  # DATA: outage duration in s (65535 = longer)
UNSAVED_RESTART = const(0x0054)  # boot without a supply-loss save; DATA: s since the checkpoint
INTERRUPTION_LONG = const(0x0055)  # DATA: duration s (65535 = longer); record in table 0x0C00
INTERRUPTION_SHORT = const(0x0056)  # DATA: duration s
VOLTAGE_SAG = const(0x0057)  # DATA: duration s; extreme in table 0x0C00
VOLTAGE_SWELL = const(0x0058)  # DATA: duration s
ENERGY_STATE_LOST = const(0x0059)  # a stored energy state could not be read; DATA: 0
PROFILE_WRITE_FAILED = const(0x0080)  # the profile flash refused a record (see fault_log)
DISPLAY_SPECIAL = const(0x0060)  # a concentrator message shown; DATA: its duration in seconds
DISPLAY_SPECIAL_CLEARED = const(0x0061)
DL_STARTED = const(0x0070)  # download opened, target slot erased; DATA: blocks
DL_COMPLETE = const(0x0071)  # every block in and the image verified; DATA: its version
DL_REFUSED = const(0x0072)  # complete but refused (nothing activated); DATA: NACK code
DL_ACTIVATED = const(0x0073)  # first boot of a new image, on trial; DATA: version
DL_CONFIRMED = const(0x0074)  # trial passed its selftest and heard the DCU; DATA: version
DL_ROLLED_BACK = const(0x0075)  # trial not confirmed in time: previous image back; DATA: version
DL_FELL_BACK = const(0x0076)  # the selected image failed its boot check; DATA: version now running
DL_ABORTED = const(0x0078)  # download abandoned by command
DL_TRIAL_FAILED = const(0x0079)  # DATA: 1 selftest failed, 2 no concentrator heard

NAMES = {
    BOOT: "boot",
    CLOCK_SET: "clock_set",
    CLOCK_ADJUST: "clock_adjust",
    ACTIVATION: "deferred_activation",
    CONTRACT_SWITCH: "contract_switch",
    RESET_DEFAULTS: "reset_defaults",
    KEY_CHANGED: "key_changed",
    TABLE_PROGRAMMED: "table_programmed",
    PARAM_WRITTEN: "parameter_written",
    BILLING_CLOSE: "billing_close",
    BILLING_SCHEDULED: "billing_close_scheduled",
    BILLING_CONTRACT: "billing_close_contract",
    RELAY_OPENED: "relay_opened",
    RECONNECT_ENABLED: "reconnect_enabled",
    RELAY_CLOSED: "relay_closed",
    LIMIT_TRIP: "limit_trip",
    CONTACT_MISMATCH: "contact_mismatch",
    LOG_CLEARED: "event_log_cleared",
    SYNC_FREEZE: "sync_freeze",
    MAX_DEMAND_RESET: "max_demand_reset",
    METROLOGY_FAULT: "metrology_fault",
    METROLOGY_OK: "metrology_ok",
    POWER_FAIL: "power_fail",
    POWER_RESTORED: "power_restored",
    UNSAVED_RESTART: "unsaved_restart",
    INTERRUPTION_LONG: "interruption_long",
    INTERRUPTION_SHORT: "interruption_short",
    VOLTAGE_SAG: "voltage_sag",
    VOLTAGE_SWELL: "voltage_swell",
    ENERGY_STATE_LOST: "energy_state_lost",
    PROFILE_WRITE_FAILED: "profile_write_failed",
    DISPLAY_SPECIAL: "display_special",
    DISPLAY_SPECIAL_CLEARED: "display_special_cleared",
    DL_STARTED: "download_started",
    DL_COMPLETE: "download_complete",
    DL_REFUSED: "download_refused",
    DL_ACTIVATED: "image_activated",
    DL_CONFIRMED: "image_confirmed",
    DL_ROLLED_BACK: "image_rolled_back",
    DL_FELL_BACK: "image_fell_back",
    DL_ABORTED: "download_aborted",
    DL_TRIAL_FAILED: "image_trial_failed",
}


def clamp16(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def record(t, code, data):
    d = data & 0xFFFF
    return bytes(
        (
            t >> 24 & 255,
            t >> 16 & 255,
            t >> 8 & 255,
            t & 255,
            code >> 8,
            code & 255,
            d >> 8,
            d & 255,
        )
    )
