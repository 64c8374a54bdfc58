"""PHY profile v1: every on-air constant in one place (docs/phy.md is the normative text).

Other layers import these names (MAC timing, drivers, the simulated medium); keep them stable.
All values are integers; nothing here allocates after import.
"""

from micropython import const

PROFILE_VERSION = const(1)

# --- carrier, symbol rate, data rate ---------------------------------------------------------
# 86.4 kHz = 9 x 9600 Hz: exactly 9 carrier cycles per symbol, and with the RX ADC at 38.4 kHz
# the carrier aliases to fs/4 (5th Nyquist zone, 76.8..96 kHz) so down-conversion is 1,0,-1,0.
# The only carrier of profile v1 (48 and 67.2 kHz were dropped: they were never specified, and
# 67.2 kHz aliases to -fs/4, i.e. spectrum-inverted).
CARRIER_HZ = const(86400)
TX_PHASE_DEG = const(45)  # carrier phase of the TX waveform at the start of every symbol
TX_LEVEL_PCT = const(95)  # peak of the TX envelope over all symbol patterns, % of DAC_MID - 1
SYMBOL_RATE = const(9600)  # B-PSK symbols per second = coded bits per second
BIT_RATE = const(4800)  # data bits per second after rate-1/2 FEC ("coded bit-rate 4800 bps")

# --- sample rates ----------------------------------------------------------------------------
RX_SAMPLE_RATE_HZ = const(38400)  # ADC, band-pass undersampled, 4 samples per symbol
RX_SPS = const(4)
TX_SAMPLE_RATE_HZ = const(345600)  # DAC/PWM update rate: 4 per carrier cycle, 36 per symbol
TX_SPS = const(36)
ADC_BITS = const(12)
ADC_MID = const(2048)  # mid-scale code of the 12-bit ADC (DC offset of the coupler bias)
DAC_BITS = const(12)
DAC_MID = const(2048)

# --- frame format ----------------------------------------------------------------------------
PREAMBLE_SYMBOLS = const(48)  # +1,-1,+1,... (uncoded) for AGC, timing and carrier phase
SYNC_SYMBOLS = const(32)
SYNC_WORD = const(0x6270825D)  # MSB first; aperiodic sidelobes <= 4/32, <= 4 vs the preamble
HEADER_BYTES = const(3)  # LEN, FLAGS (version<<4), CRC-8 of both
TAIL_BITS = const(6)  # K-1 zero bits terminate each convolutional block
HEADER_SYMBOLS = const(60)  # (3*8 + 6) * 2
CRC_BYTES = const(4)  # CRC-32 (reflected 0xEDB88320) over the payload, little-endian
MAX_LSDU = const(128)  # data-link LSDU limit
MAX_MAC_HEADER = const(54)  # LT+ADDRESS+CTL+RP(<=42)+reserved+INF-control+INF-LSAP (informative)
MAX_PAYLOAD = const(255)  # PHY payload = one data-link frame, 1..255 bytes
K = const(7)  # convolutional code constraint length, generators 171/133 octal
G0 = const(0o171)
G1 = const(0o133)


def payload_symbols(n_payload_bytes):
    """Coded symbols for the payload block: (payload + CRC-32) bits + tail, times 2."""
    return ((n_payload_bytes + CRC_BYTES) * 8 + TAIL_BITS) * 2


def frame_symbols(n_payload_bytes):
    """Symbols on air: preamble + sync + coded header + coded payload/CRC/tail."""
    return PREAMBLE_SYMBOLS + SYNC_SYMBOLS + HEADER_SYMBOLS + payload_symbols(n_payload_bytes)


def airtime_us(n_payload_bytes):
    """On-air duration of a frame carrying n_payload_bytes, in microseconds (rounded up)."""
    s = frame_symbols(n_payload_bytes)
    return (s * 1000000 + SYMBOL_RATE - 1) // SYMBOL_RATE
