# ruff: noqa: E501  (one register per line: the table reads as a table)
"""The data-model register table: one row per object the meter exposes over SMITP.

Object IDs are 16-bit, sent big-endian; the high byte is the clause-10 group. 0x003F = Status
Word is public (facts §3); every other id, layout, rule and default is our choice, documented
in docs/datamodel.md, which tools/gen_datamodel_doc.py generates from this table (`make docs`).

Row: (oid, name, type, size, access, kind, src, default, rule, note)
  type    datamodel.values code; size = bytes (tables: record size; objlist: maximum)
  access  bit mask: CLEAR_R read in clear, KEY_R read with a key, KEY_W write with the write
          key; MM = metering data, read key needed when reading_mode bit 0 is set; NEVER = 0
  kind    P persisted parameter (src = offset in its group's block, filled in below)
          M metering state (src = offset in MeteringState.buf)
          F function (src = getter(meter) or (getter, setter(meter, bytes) -> NACK code))
          L log table, T parameter table (src = capacity in records; None for an L row = a
          flash ring its feature puts in model.tables at attach, e.g. the profiles)
  default P: int or bytes; T: bytes of records; else None
  rule    datamodel.values.check rule (tables: applied to every record)
Rows are tuples (a board keeps ~110 of them in RAM; note strings stay in flash when frozen).
"""

from cutoff import regs as cutoff_regs
from dl import regs as dlr
from micropython import const
from tariff import views as tv

from datamodel import live
from datamodel import metering as mt
from datamodel.values import (
    ASCII,
    BYTES,
    I16,
    I32,
    KEY,
    LOG,
    OBJLIST,
    TAB,
    TIME,
    U8,
    U16,
    U32,
    U64,
    time_or_zero,
)

NEVER = const(0)
CLEAR_R = const(1)
KEY_R = const(2)
KEY_W = const(4)
MM = const(8)
RW = const(5)  # CLEAR_R | KEY_W

P = const(0)
M = const(1)
F = const(2)
L = const(3)
T = const(4)

# ids other modules use by name
SERIAL_NUMBER = const(0x0001)
FIRMWARE_VERSION = const(0x0002)
ACA = const(0x0003)
BOOT_COUNT = const(0x0004)
STATUS_WORD = const(0x003F)
EXTENDED_STATUS = const(0x0040)
CLOCK = const(0x0100)
CLOCK_SYNC_WINDOW = const(0x0103)
LAST_CLOCK_SYNC = const(0x0104)
CLOCK_SYNC_COUNT = const(0x0105)
KEY_WRITE = const(0x0201)
KEY_READ = const(0x0202)
LOAD_PROFILE = const(0x0500)
LP_PERIOD = const(0x0501)
LP_CHANNELS = const(0x0502)
DAILY_SNAPSHOT = const(0x0503)
MEASURAND_PROFILE = const(0x1100)
MP_PERIOD = const(0x1101)
MP_CHANNELS = const(0x1102)
CONTRACT2_START = const(0x0812)
LAST_BILLING = const(0x0603)
BILLING_COUNT = const(0x0604)
VOLTAGE_EVENTS = const(0x0C00)
LAST_COMMAND = const(0x0D01)
LAST_COMMAND_TIME = const(0x0D02)
RELAY_ARMED = const(0x0D04)
CUTOFF_MODE = const(0x0E00)
CUTOFF_MARGIN_PCT = const(0x0E01)
CUTOFF_DELAY_S = const(0x0E02)
LIMIT_RECONNECT = const(0x0E03)
AUTO_RECONNECT_S = const(0x0E04)
SYNC_TIME = const(0x1200)
SYNC_IMPORT = const(0x1201)
SYNC_EXPORT = const(0x1202)
EVENT_LOG = const(0x1300)
BILLING_DATA = const(0x1400)
READING_MODE = const(0x1800)
BNODE_PUBLISH = const(0x1901)
BNODE_MESSAGE = const(0x1902)
BNODE_PERIOD = const(0x1904)
CUSTOM_TABLE = const(0x1A00)  # + 1..4
CUSTOM_TABLES = const(4)

# Status word (0x003F) bits, u64 big-endian
SW_RELAY_OPEN = const(1 << 0)
SW_RELAY_FAULT = const(1 << 1)
SW_CLOCK_NOT_SET = const(1 << 2)
SW_STORE_RECOVERED = const(1 << 3)  # the store had to discard a torn record at boot
SW_FIRST_BOOT = const(1 << 4)
SW_CLOCK_SYNCED = const(1 << 5)  # clock set or adjusted by the concentrator since this boot
SW_RELAY_ARMED = const(1 << 6)  # reconnection enabled, waiting for the customer
SW_METROLOGY_FAULT = const(1 << 7)  # the front-end fails or delivers implausible samples now
SW_ENERGY_CHECKPOINT = const(1 << 8)  # energy restored from a checkpoint, not a supply-loss save
SW_VOLTAGE_EVENT = const(1 << 9)  # a sag, swell or interruption is in progress
SW_REVERSE_FLOW = const(1 << 10)  # active power is being exported (last metering second)
SW_PROFILE_FAULT = const(1 << 23)  # the profile flash refused a record since boot
SW_CUT_REMOTE = const(
    1 << 12
)  # cut-off: opened by the concentrator (open_remote or armed after it)
SW_CUT_LIMIT = const(1 << 13)  # cut-off: opened by the contract power limit
SW_OVERLOAD = const(1 << 14)  # cut-off: above the limit now, the delay is running
SW_CONTACT_MISMATCH = const(1 << 15)  # cut-off: at boot the contact disagreed with the state

# Extended status (0x0040) bits
XS_BNODE_PRESENT = const(1 << 0)
XS_PENDING_ACTIVATION = const(1 << 1)
XS_TABLE_STAGED = const(1 << 2)
XS_EVENTS_LOST = const(1 << 3)  # the event log ring has overwritten records
XS_READ_PROTECTED = const(1 << 4)  # reading_mode bit 0
XS_FAULTS = const(1 << 5)  # meter.faults recorded something since boot
XS_NO_LOAD = const(1 << 8)  # last metering second below the no-load threshold (not booked)
XS_METROLOGY_ERRORS = const(1 << 9)  # the front-end failed or was refused since boot


_MDAYS = b"\x1f\x1d\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"  # Feb 29 allowed


def _date_ok(mo, d):
    return 1 <= mo <= 12 and 1 <= d <= _MDAYS[mo - 1]


XS_LIMITER_ON = const(1 << 10)  # cut-off: cutoff_mode = 1
XS_AUTO_RECONNECT = const(1 << 11)  # cut-off: open_limit and limit_reconnect = 2 (will close)


def _tariff_rec(r):
    # PROG<<4 | DAYTYPE (0 Mon-Fri, 1 Sat, 2 Sun, 3 holiday) | HOUR | MINUTE | TARIFF 1..4
    return r[0] & 15 <= 3 and r[1] <= 23 and r[2] <= 59 and 1 <= r[3] <= 4


def _season_rec(r):
    # MONTH | DAY | PROG 0..15 | PLAN (0 every plan, else that contract plan 1..15)
    return _date_ok(r[0], r[1]) and r[2] <= 15 and r[3] <= 15


def _holiday_rec(r):
    # MONTH | DAY | YEAR (0 = every year, else year - 2000) | DAYTYPE 0..3
    return _date_ok(r[0], r[1]) and r[2] <= 99 and r[3] <= 3


def _ids_known(b):
    for i in range(0, len(b), 2):
        row = find((b[i] << 8) | b[i + 1])
        if row is None or row[2] in (LOG, TAB, KEY) or not row[4] & (CLEAR_R | KEY_R):
            return False
    return True


def _custom_ok(b):
    # a custom table: known readable non-table ids, answer (values) <= 110 bytes
    if not _ids_known(b):
        return False
    total = 0
    for i in range(0, len(b), 2):
        total += find((b[i] << 8) | b[i + 1])[3]
    return total <= 110


def _ids(*oids):
    out = bytearray()
    for o in oids:
        out.append(o >> 8)
        out.append(o & 0xFF)
    return bytes(out)


_E = b"\x05\x0a\x0f\x1e\x3c"  # 5, 10, 15, 30, 60 minutes
_OFFON = b"\x00\x01"
_PCT = (0, 100)
_W = (0, 1000000)

# fmt: off
_ROWS = (
    # --- 0x00 meter identification, status words
    (0x0001, "serial_number", ASCII, 16, CLEAR_R, F, live.serial, None, None, "config `serial`, space padded"),
    (0x0002, "firmware_version", BYTES, 8, CLEAR_R, F, live.firmware, None, None, "`MMPY` + 4-digit release"),
    (0x0003, "aca", BYTES, 6, CLEAR_R, F, live.aca, None, None, "the meter's ACA, wire order"),
    (0x0004, "boot_count", U32, 4, CLEAR_R, F, live.boots, None, None, "boots since first start (store)"),
    (0x0005, "manufacturer", ASCII, 3, CLEAR_R, F, live.manufacturer, None, None, "config `manufacturer` (FLAG id)"),
    (0x0006, "hardware_version", ASCII, 8, CLEAR_R, F, live.hardware, None, None, "board name, space padded"),
    (0x0007, "owner_id", ASCII, 16, RW, P, None, b" " * 16, None, "utility's asset/customer number"),
    (0x003F, "status_word", U64, 8, CLEAR_R, F, live.status_word, None, None, "flags, see Status word"),
    (0x0040, "extended_status", U64, 8, KEY_R, F, live.extended_status, None, None, "flags, see Extended status"),
    (0x0041, "fault_log", BYTES, 74, KEY_R, F, live.fault_log, None, None, "faults since boot: COUNT(2) + 3 x [T_S(4) TYPE(10) PLACE(10)], newest last, ASCII space padded, unused entries zero"),
    # --- 0x01 time
    (0x0100, "clock", TIME, 4, CLEAR_R | KEY_W, F, (live.clock, live.clock_write), None, None, "UTC now; a write = clock set (docs/smitp.md §7)"),
    (0x0101, "utc_offset_min", I16, 2, RW, P, None, 60, (-720, 840), "local standard time - UTC, minutes"),
    (0x0102, "dst_mode", U8, 1, RW, P, None, 1, _OFFON, "0 none, 1 EU summer time rule"),
    (0x0103, "clock_sync_window_s", U16, 2, RW, P, None, 300, (1, 3600), "largest clock_adjust step accepted"),
    (0x0104, "last_clock_sync", TIME, 4, CLEAR_R, P, None, 0, None, "time of the last set/adjust, 0 never"),
    (0x0105, "clock_sync_count", U16, 2, CLEAR_R, P, None, 0, None, "set/adjust commands executed"),
    # --- 0x02 communication address and keys
    (0x0200, "sca", BYTES, 6, CLEAR_R, F, live.sca, None, None, "section address, FF x6 when none"),
    (0x0201, "key_write", KEY, 16, KEY_W, F, (None, live.key_write), None, None, "K1, write-only (security layer)"),
    (0x0202, "key_read", KEY, 16, KEY_W, F, (None, live.key_read), None, None, "K2, write-only (security layer)"),
    (0x0203, "lmon", U64, 8, CLEAR_R, F, live.lmon, None, None, "last accepted message counter"),
    (0x0204, "tct", U8, 1, CLEAR_R, F, live.tct, None, None, "network-management silencing level"),
    (0x0205, "neighbours", BYTES, 96, CLEAR_R, F, live.neighbours, None, None, "12 nodes heard (those nearer the master kept first): ACA(6, wire order; 00 x 6 the master) SIG(dBuV) SNR(quarter dB, 255 unknown), strongest first, free entries zero (docs/datalink.md §6.1)"),
    # --- 0x03 internal parameters
    (0x0300, "meter_constant", U16, 2, RW, P, None, 1000, (1, 60000), "impulses per kWh of the test LED"),
    (0x0301, "nominal_voltage_v", U16, 2, RW, P, None, 230, (100, 480), "V"),
    (0x0302, "max_current_a", U8, 1, RW, P, None, 60, (1, 255), "A"),
    (0x0303, "nominal_frequency_hz", U8, 1, RW, P, None, 50, b"\x32\x3c", "50 or 60"),
    (0x0304, "phases", U8, 1, CLEAR_R, F, live.phases, None, None, "config `phase` count"),
    (0x0305, "integration_period_min", U8, 1, RW, P, None, 15, _E, "energy integration period"),
    # metrology IC calibration (docs/metrology.md), written to the STPM3x at start and on change
    (0x0310, "cal_gain_v", U16, 2, RW, P, None, 0x800, (0, 4095), "STPM3x CHV1: gain 0.75 + n/16384"),
    (0x0311, "cal_gain_i", U16, 2, RW, P, None, 0x800, (0, 4095), "STPM3x CHC1: gain 0.75 + n/16384"),
    (0x0312, "cal_phase_i", U16, 2, RW, P, None, 0, (0, 1023), "STPM3x PHC1: current delay, 1 us"),
    (0x0313, "cal_offset_p", I16, 2, RW, P, None, 0, (-512, 511), "STPM3x OFA: active power offset"),
    # --- 0x04 total and daily energies (producer: metering)
    (0x0400, "active_import_wh", U32, 4, CLEAR_R | MM, M, mt.ACTIVE_IMPORT, None, None, "A+ total, Wh"),
    (0x0401, "active_export_wh", U32, 4, CLEAR_R | MM, M, mt.ACTIVE_EXPORT, None, None, "A- total, Wh"),
    (0x0402, "reactive_q1_varh", U32, 4, CLEAR_R | MM, M, mt.REACTIVE_Q1, None, None, "varh"),
    (0x0403, "reactive_q2_varh", U32, 4, CLEAR_R | MM, M, mt.REACTIVE_Q2, None, None, "varh"),
    (0x0404, "reactive_q3_varh", U32, 4, CLEAR_R | MM, M, mt.REACTIVE_Q3, None, None, "varh"),
    (0x0405, "reactive_q4_varh", U32, 4, CLEAR_R | MM, M, mt.REACTIVE_Q4, None, None, "varh"),
    (0x0410, "import_t1_wh", U32, 4, CLEAR_R | MM, M, mt.IMPORT_T1, None, None, "A+ in tariff 1, Wh"),
    (0x0411, "import_t2_wh", U32, 4, CLEAR_R | MM, M, mt.IMPORT_T2, None, None, "A+ in tariff 2, Wh"),
    (0x0412, "import_t3_wh", U32, 4, CLEAR_R | MM, M, mt.IMPORT_T3, None, None, "A+ in tariff 3, Wh"),
    (0x0413, "import_t4_wh", U32, 4, CLEAR_R | MM, M, mt.IMPORT_T4, None, None, "A+ in tariff 4, Wh"),
    (0x0420, "daily_import_wh", U32, 4, CLEAR_R | MM, M, mt.DAILY_IMPORT, None, None, "A+ since local midnight"),
    (0x0421, "daily_export_wh", U32, 4, CLEAR_R | MM, M, mt.DAILY_EXPORT, None, None, "A- since local midnight"),
    (0x0422, "daily_reactive_varh", U32, 4, CLEAR_R | MM, M, mt.DAILY_REACTIVE, None, None, "Q1+Q2 since local midnight"),
    (0x0430, "led_pulses", U32, 4, CLEAR_R | MM, M, mt.LED_PULSES, None, None, "test-LED pulses at meter_constant, since first start"),
    # --- 0x05 load profile and its settings
    (0x0500, "load_profile", LOG, 14, CLEAR_R | MM, L, None, None, None, "TIME STATUS CHANNELS A+ A- R+ R- (u16 Wh/varh per period), flash ring (docs/profiles.md)"),
    (0x0501, "lp_period_min", U8, 1, RW, P, None, 15, _E, "load profile period"),
    (0x0502, "lp_channels", U8, 1, RW, P, None, 15, (0, 15), "bit0 A+, bit1 A-, bit2 R+ (Q1+Q2), bit3 R- (Q3+Q4)"),
    (0x0503, "daily_snapshot", LOG, 46, CLEAR_R | MM, L, None, None, None, "TIME STATUS TARIFF A+ A- Q1 Q2 Q3 Q4 T1 T2 T3 T4 (u32) at local midnight, flash ring"),
    # --- 0x06 billing period
    (0x0600, "billing_mode", U8, 1, RW, P, None, 1, b"\x00\x01\x02", "0 on command only, 1 monthly, 2 every 2 months"),
    (0x0601, "billing_day", U8, 1, RW, P, None, 1, (1, 28), "day of month of the automatic close"),
    (0x0602, "billing_hour", U8, 1, RW, P, None, 0, (0, 23), "local hour of the automatic close"),
    (0x0603, "last_billing_time", TIME, 4, CLEAR_R, P, None, 0, None, "time of the last close, 0 never"),
    (0x0604, "billing_count", U16, 2, CLEAR_R, P, None, 0, None, "billing periods closed"),
    # --- 0x07 software, hardware, security information
    (0x0700, "legal_sw_id", ASCII, 8, CLEAR_R, F, live.legal_id, None, None, "legally relevant software identification"),
    (0x0701, "legal_sw_checksum", U32, 4, CLEAR_R, F, live.legal_checksum, None, None, "CRC-32 of the legally relevant modules (datamodel/legal.py)"),
    (0x0702, "lmon_window", U16, 2, CLEAR_R, F, live.lmon_window, None, None, "messages one persisted LMON record covers (docs/smitp_security.md)"),
    # --- 0x08 supply contracts 1 (in force) and 2 (next)
    (0x0800, "contract1_power_w", U32, 4, RW, P, None, 3000, (100, 1000000), "contractual power in force, W"),
    (0x0801, "contract1_plan", U8, 1, RW, P, None, 1, (0, 15), "tariff plan in force"),
    (0x0810, "contract2_power_w", U32, 4, RW, P, None, 0, _W, "next contract's power, W (0 none)"),
    (0x0811, "contract2_plan", U8, 1, RW, P, None, 0, (0, 15), "next contract's tariff plan"),
    (0x0812, "contract2_start", TIME, 4, RW, P, None, 0, time_or_zero, "contract 2 replaces 1 at this time (0 never)"),
    # --- 0x09 weekly and annual tariffs
    (0x0900, "weekly_tariff", TAB, 4, RW, T, 40, b"\x00\x00\x00\x01", _tariff_rec, "PROGDAY(PROG x 16 + DAYTYPE) HOUR MINUTE TARIFF: switch points (docs/tariffs.md)"),
    (0x0901, "annual_tariff", TAB, 4, RW, T, 12, b"\x01\x01\x00\x00", _season_rec, "MONTH DAY PROG PLAN: season starts (docs/tariffs.md)"),
    (0x0902, "active_tariff", U8, 1, CLEAR_R, M, mt.ACTIVE_TARIFF, None, None, "tariff in force 1..4 (0 none yet)"),
    # --- 0x0A public holidays
    (0x0A00, "public_holidays", TAB, 4, RW, T, 24, b"", _holiday_rec, "MONTH DAY YEAR(0 every year, else -2000) DAYTYPE (docs/tariffs.md)"),
    # --- 0x0B load modulation
    (0x0B00, "modulation_mode", U8, 1, RW, P, None, 0, b"\x00\x01\x02", "0 off, 1 power limit, 2 load shedding"),
    (0x0B01, "modulation_limit_w", U32, 4, RW, P, None, 0, _W, "W"),
    (0x0B02, "modulation_start", TIME, 4, RW, P, None, 0, time_or_zero, "start, 0 none"),
    (0x0B03, "modulation_duration_min", U16, 2, RW, P, None, 0, None, "minutes"),
    # --- 0x0C voltage interruptions and variations (producer: metering)
    (0x0C00, "voltage_events", LOG, 12, CLEAR_R | MM, L, 10, None, None, "TIME TYPE(1: 1 long, 2 short, 3 sag, 4 swell) PHASE(1) DURATION_S(4) EXTREME(2, 0.1 V)"),
    (0x0C01, "long_interruptions", U16, 2, CLEAR_R, M, mt.LONG_INTERRUPTIONS, None, None, "count"),
    (0x0C02, "short_interruptions", U16, 2, CLEAR_R, M, mt.SHORT_INTERRUPTIONS, None, None, "count"),
    (0x0C03, "sag_threshold_pct", U8, 1, RW, P, None, 90, (50, 99), "% of nominal"),
    (0x0C04, "swell_threshold_pct", U8, 1, RW, P, None, 110, (101, 150), "% of nominal"),
    (0x0C05, "long_interruption_s", U16, 2, RW, P, None, 180, (1, 3600), "shorter = short interruption"),
    (0x0C06, "sags", U16, 2, CLEAR_R, M, mt.SAGS, None, None, "voltage sags below sag_threshold_pct, count"),
    (0x0C07, "swells", U16, 2, CLEAR_R, M, mt.SWELLS, None, None, "voltage swells above swell_threshold_pct, count"),
    (0x0C08, "power_failures", U16, 2, CLEAR_R, M, mt.POWER_FAILS, None, None, "supply losses seen by the power-fail input, count"),
    (0x0C09, "last_power_failure", TIME, 4, CLEAR_R, M, mt.LAST_POWER_FAIL, None, None, "time of the last supply loss, 0 never"),
    (0x0C0A, "last_outage_s", U32, 4, CLEAR_R, M, mt.LAST_OUTAGE_S, None, None, "duration of the last outage, s"),
    # --- 0x0D control information
    (0x0D00, "relay_state", U8, 1, CLEAR_R, F, cutoff_regs.relay_state, None, None, "0 open, 1 closed, 2 armed, 255 unknown"),
    (0x0D01, "last_command", U8, 1, CLEAR_R, P, None, 0, None, "last COMMAND code executed"),
    (0x0D02, "last_command_time", TIME, 4, CLEAR_R, P, None, 0, None, "its time"),
    (0x0D04, "relay_armed", U8, 1, CLEAR_R, F, cutoff_regs.relay_armed, None, None, "1 = reconnection enabled, waiting for the customer's long press"),
    (0x0D03, "pending_activation", BYTES, 6, CLEAR_R, F, live.pending, None, None, "OBJ(2) TIME(4) of SETIC/WRITETABIC, FF x6 none"),
    (0x0D05, "disconnect_control_state", U8, 1, CLEAR_R, F, cutoff_regs.control_state, None, None, "DLMS control_state: 0 disconnected, 1 connected, 2 ready for reconnection"),
    (0x0D06, "cutoff_state", U8, 1, CLEAR_R, F, cutoff_regs.cutoff_state, None, None, "0 closed, 1 open_remote, 2 open_limit, 3 armed (docs/cutoff.md)"),
    (0x0D07, "limit_trips", U16, 2, CLEAR_R, F, cutoff_regs.limit_trips, None, None, "cut-offs by the contract power limit (persisted)"),
    (0x0D08, "overload_s", U16, 2, CLEAR_R, F, cutoff_regs.overload_s, None, None, "seconds above the limit so far (0 below it)"),
    # --- 0x0E cut-off control
    (0x0E00, "cutoff_mode", U8, 1, RW, P, None, 0, _OFFON, "1 = open the relay above contract power + margin"),
    (0x0E01, "cutoff_margin_pct", U8, 1, RW, P, None, 10, _PCT, "tolerance above contract power (0x0800), %"),
    (0x0E02, "cutoff_delay_s", U16, 2, RW, P, None, 60, (1, 3600), "seconds over the limit in a row before the cut-off"),
    (0x0E03, "limit_reconnect", U8, 1, RW, P, None, 0, b"\x00\x01\x02", "after a limit cut-off: 0 concentrator enables then button, 1 button, 2 automatic"),
    (0x0E04, "auto_reconnect_s", U16, 2, RW, P, None, 60, (10, 3600), "limit_reconnect 2: seconds open before closing again"),
    (0x0E05, "limit_w", U32, 4, CLEAR_R, F, cutoff_regs.limit_w, None, None, "the limit in force: contract power x (100 + margin) / 100, W"),
    # --- 0x0F display management
    (0x0F00, "display_list", OBJLIST, 32, RW, P, None, _ids(0x0400, 0x0410, 0x0411, 0x0412, 0x0413, 0x0401, 0x0100), _ids_known, "automatic scroll list, shown in turn"),
    (0x0F01, "display_scroll_s", U8, 1, RW, P, None, 8, (1, 60), "seconds per object"),
    (0x0F02, "display_message", ASCII, 16, RW, P, None, b" " * 16, None, "remote message, in the scroll list while not all spaces"),
    (0x0F03, "display_button_list", OBJLIST, 32, RW, P, None, _ids(0x0400, 0x0410, 0x0411, 0x0412, 0x0413, 0x0401, 0x1600, 0x0800, 0x0001, 0x0700, 0x0701), _ids_known, "push-button list: a short press shows the next"),
    (0x0F04, "display_alt_list", OBJLIST, 32, RW, P, None, _ids(0x1700, 0x1701, 0x1702, 0x1703, 0x1704, 0x0402, 0x0403, 0x0404, 0x0405, 0x003F, 0x0004), _ids_known, "alternate list: a long press enters and leaves it"),
    (0x0F05, "display_timeout_s", U8, 1, RW, P, None, 60, (5, 255), "no press for this long: back to the scroll list"),
    (0x0F06, "display_special", BYTES, 18, CLEAR_R, F, live.display_special, None, None, "special message on show: REMAINING_S(2) TEXT(16), zeros none"),
    # --- 0x10 download parameters
    (0x1000, "download_state", U8, 1, CLEAR_R, F, dlr.state, None, None, "0 idle, 1 receiving, 2 ready, 3 refused, 4 activated, 5 erasing (docs/download.md)"),
    (0x1001, "download_block_size", U8, 1, CLEAR_R, F, dlr.block_size, None, None, "bytes per block of the open download"),
    (0x1002, "download_image_id", BYTES, 4, CLEAR_R, F, dlr.image_id, None, None, "first 4 bytes of the image's manifest tag"),
    (0x1003, "download_activation", TIME, 4, CLEAR_R, F, dlr.activation, None, None, "activation time set by COMMAND 0x19, 0 none"),
    (0x1004, "download_key", KEY, 16, KEY_W, F, (None, dlr.key_write), None, None, "AES-128 download key, write-only"),
    (0x1005, "download_progress", BYTES, 6, CLEAR_R, F, dlr.progress, None, None, "RECEIVED(2) TOTAL(2) CODE(1) SLOT(1)"),
    (0x1006, "running_image", BYTES, 7, CLEAR_R, F, dlr.running, None, None, "SLOT(1) TRIAL(1) TRIES(1) VERSION(4)"),
    # --- 0x11 measurand profiles (producer: metering)
    (0x1100, "measurand_profile", LOG, 14, CLEAR_R | MM, L, None, None, None, "TIME STATUS CHANNELS V(2, 0.1 V) I(2, 0.01 A) P(i32 W), period means, flash ring"),
    (0x1101, "mp_period_min", U8, 1, RW, P, None, 10, _E, "period"),
    (0x1102, "mp_channels", U8, 1, RW, P, None, 7, (0, 7), "bit0 V, bit1 I, bit2 P"),
    # --- 0x12 synchronized registers (frozen by COMMAND sync_freeze)
    (0x1200, "sync_time", TIME, 4, CLEAR_R, P, None, 0, None, "time of the last freeze"),
    (0x1201, "sync_import_wh", U32, 4, CLEAR_R | MM, P, None, 0, None, "A+ at the freeze"),
    (0x1202, "sync_export_wh", U32, 4, CLEAR_R | MM, P, None, 0, None, "A- at the freeze"),
    # --- 0x13 event log
    (0x1300, "event_log", LOG, 8, KEY_R, L, 32, None, None, "TIME CODE(2) DATA(2), codes in Events"),
    # --- 0x14 billing data
    (0x1400, "billing_data", LOG, 61, CLEAR_R | MM, L, 6, None, None, "TIME CAUSE A+ A- T1..T4 (MD_W MD_TIME) x 4 (docs/tariffs.md)"),
    # --- 0x15 virtual billing registers (current period)
    (0x1500, "period_import_wh", U32, 4, CLEAR_R | MM, F, tv.period(0), None, None, "A+ since the last billing close"),
    (0x1501, "period_export_wh", U32, 4, CLEAR_R | MM, F, tv.period(1), None, None, "A- since the last billing close"),
    (0x1510, "period_t1_wh", U32, 4, CLEAR_R | MM, F, tv.period(2), None, None, "A+ in tariff 1 since the last billing close"),
    (0x1511, "period_t2_wh", U32, 4, CLEAR_R | MM, F, tv.period(3), None, None, "A+ in tariff 2 since the last billing close"),
    (0x1512, "period_t3_wh", U32, 4, CLEAR_R | MM, F, tv.period(4), None, None, "A+ in tariff 3 since the last billing close"),
    (0x1513, "period_t4_wh", U32, 4, CLEAR_R | MM, F, tv.period(5), None, None, "A+ in tariff 4 since the last billing close"),
    # --- 0x16 maximum demand
    (0x1600, "max_demand_w", U32, 4, CLEAR_R | MM, M, mt.MAX_DEMAND, None, None, "highest block demand (all tariffs) this billing period, W"),
    (0x1601, "max_demand_time", TIME, 4, CLEAR_R | MM, M, mt.MAX_DEMAND_TIME, None, None, "end of its block"),
    (0x1602, "demand_period_min", U8, 1, RW, P, None, 15, _E, "demand block length (fixed blocks on UTC multiples, docs/tariffs.md)"),
    (0x1610, "max_demand_t1_w", U32, 4, CLEAR_R | MM, F, tv.demand_w(1), None, None, "highest tariff-1 block demand this billing period, W"),
    (0x1611, "max_demand_t2_w", U32, 4, CLEAR_R | MM, F, tv.demand_w(2), None, None, "same, tariff 2"),
    (0x1612, "max_demand_t3_w", U32, 4, CLEAR_R | MM, F, tv.demand_w(3), None, None, "same, tariff 3"),
    (0x1613, "max_demand_t4_w", U32, 4, CLEAR_R | MM, F, tv.demand_w(4), None, None, "same, tariff 4"),
    (0x1620, "max_demand_t1_time", TIME, 4, CLEAR_R | MM, F, tv.demand_time(1), None, None, "end of the block of max_demand_t1_w, 0 none"),
    (0x1621, "max_demand_t2_time", TIME, 4, CLEAR_R | MM, F, tv.demand_time(2), None, None, "same, tariff 2"),
    (0x1622, "max_demand_t3_time", TIME, 4, CLEAR_R | MM, F, tv.demand_time(3), None, None, "same, tariff 3"),
    (0x1623, "max_demand_t4_time", TIME, 4, CLEAR_R | MM, F, tv.demand_time(4), None, None, "same, tariff 4"),
    # --- 0x17 measurand information (instantaneous)
    (0x1700, "voltage_dv", U16, 2, CLEAR_R | MM, M, mt.VOLTAGE, None, None, "0.1 V"),
    (0x1701, "current_ca", U16, 2, CLEAR_R | MM, M, mt.CURRENT, None, None, "0.01 A"),
    (0x1702, "active_power_w", I32, 4, CLEAR_R | MM, M, mt.POWER, None, None, "W, import positive"),
    (0x1703, "power_factor", I16, 2, CLEAR_R | MM, M, mt.POWER_FACTOR, None, None, "0.001"),
    (0x1704, "frequency_chz", U16, 2, CLEAR_R | MM, M, mt.FREQUENCY, None, None, "0.01 Hz"),
    (0x1705, "reactive_power_var", I32, 4, CLEAR_R | MM, M, mt.REACTIVE_POWER, None, None, "var, inductive positive"),
    # --- 0x18 reading mode
    (0x1800, "reading_mode", U8, 1, RW, P, None, 0, _OFFON, "bit0: metering data (MM) needs the read key"),
    # --- 0x19 B-Node data kept by the meter
    (0x1900, "bnode_present", U8, 1, CLEAR_R, F, live.bnode_present, None, None, "1 when a B-Node answered the last update"),
    (0x1901, "bnode_publish", OBJLIST, 32, RW, P, None, _ids(0x0100, 0x0400, 0x0902, 0x003F), _ids_known, "objects sent in each update"),
    (0x1902, "bnode_message", ASCII, 32, RW, P, None, b" " * 32, None, "text for the customer's display"),
    (0x1903, "bnode_last_update", TIME, 4, CLEAR_R, F, live.bnode_last, None, None, "last acknowledged update, 0 never"),
    (0x1904, "bnode_period_s", U16, 2, RW, P, None, 900, None, "update period, 0 = on command only"),
    # --- 0x1A custom tables (SETTAB / GETTAB)
    (0x1A01, "custom_table_1", OBJLIST, 32, RW, P, None, b"", _custom_ok, "GETTAB 1 object list"),
    (0x1A02, "custom_table_2", OBJLIST, 32, RW, P, None, b"", _custom_ok, "GETTAB 2 object list"),
    (0x1A03, "custom_table_3", OBJLIST, 32, RW, P, None, b"", _custom_ok, "GETTAB 3 object list"),
    (0x1A04, "custom_table_4", OBJLIST, 32, RW, P, None, b"", _custom_ok, "GETTAB 4 object list"),
)
# fmt: on

GROUPS = {
    0x00: "meter identification and status words",
    0x01: "time",
    0x02: "communication address and keys",
    0x03: "internal parameters",
    0x04: "total and daily energies",
    0x05: "load profile and settings",
    0x06: "billing period",
    0x07: "software, hardware and security information",
    0x08: "supply contracts 1 and 2",
    0x09: "weekly and annual tariffs",
    0x0A: "public holidays",
    0x0B: "load modulation",
    0x0C: "voltage interruptions and variations",
    0x0D: "control information",
    0x0E: "cut-off control",
    0x0F: "display management",
    0x10: "download parameters",
    0x11: "measurand profiles",
    0x12: "synchronized registers",
    0x13: "event log",
    0x14: "billing data",
    0x15: "virtual billing registers",
    0x16: "maximum demand",
    0x17: "measurand information",
    0x18: "reading mode",
    0x19: "B-Node data",
    0x1A: "custom tables",
}


def _slot(row):
    # bytes a P row takes in its group block (objlist: a length byte + the maximum)
    return row[3] + 1 if row[2] == OBJLIST else row[3]


def _build():
    # sort by id (binary search) and give every P row its offset in its group's block
    rows = sorted(_ROWS)
    used = {}
    out = []
    for r in rows:
        if r[5] == P:
            g = r[0] >> 8
            off = used.get(g, 0)
            used[g] = off + _slot(r)
            r = r[:6] + (off,) + r[7:]
        out.append(r)
    for g in used:
        if used[g] > 250:
            raise ValueError("group block too big")
    return tuple(out), tuple(sorted(used.items()))


TABLE, BLOCKS = _build()  # BLOCKS: ((group, bytes), ...)
del _ROWS


def find(oid):
    lo = 0
    hi = len(TABLE) - 1
    while lo <= hi:
        mid = (lo + hi) >> 1
        o = TABLE[mid][0]
        if o == oid:
            return TABLE[mid]
        if o < oid:
            lo = mid + 1
        else:
            hi = mid - 1
    return None


def by_name(name):
    for row in TABLE:
        if row[1] == name:
            return row
    return None


def group_rows(g):
    for row in TABLE:
        if row[0] >> 8 == g:
            yield row


def default_bytes(row):
    """A P or T row's default value as bytes (objlist: the list itself)."""
    d = row[7]
    if isinstance(d, int):
        from datamodel.values import encode

        return encode(row[2], d)
    return d
