"""Powerline channel simulator for the soft B-PSK PHY (CPython + numpy/scipy).

Input: the firmware transmitter's DAC codes at profile TX rate (345.6 kHz). Output: uint16 ADC
codes at the RX rate (38.4 kHz, band-pass undersampled) ready for phy.rx.Receiver.feed().

Chain (docs/phy.md "Channel model"):
  DAC codes -> line volts (tx_vrms) -> multipath (Zimmermann-Dostert echo model) -> attenuation
  -> + AWGN (Eb/N0 referred to the received signal) + narrowband interferer + mains-synchronous
  impulsive bursts -> RX coupler band-pass (Butterworth or ideal) -> sampling at the RX rate with a
  clock offset (ppm) and random phase -> AFE gain -> 12-bit ADC with mid-scale offset.
"""

import numpy as np
from scipy import signal

FS_TX = 345600
FS_RX = 38400
SYMBOL_RATE = 9600
ADC_VREF = 3.3
ADC_BITS = 12
AFE_GAIN_DB = 20.0

# Zimmermann & Dostert (2002) 4-path example: weights g_i, path lengths d_i (m), a0, a1, k.
ZD4 = dict(g=[0.64, 0.38, -0.15, 0.05], d=[200.0, 222.4, 244.8, 267.5], a0=0.0, a1=7.8e-10, k=1.0)


def zd_response(f, g, d, a0, a1, k, vp=1.5e8):
    """H(f) = sum g_i exp(-(a0 + a1 f^k) d_i) exp(-j 2 pi f d_i / vp)."""
    f = np.abs(np.asarray(f, float))
    h = np.zeros(f.shape, complex)
    for gi, di in zip(g, d):
        h += gi * np.exp(-(a0 + a1 * f**k) * di) * np.exp(-2j * np.pi * f * di / vp)
    return h


def _fft_filter(x, fs, hfun):
    n = len(x)
    nf = 1 << int(np.ceil(np.log2(n + 1)))
    X = np.fft.rfft(x, nf)
    f = np.fft.rfftfreq(nf, 1 / fs)
    return np.fft.irfft(X * hfun(f), nf)[:n]


def impulsive(n, fs, rng, level_v, mains_hz=50.0, burst_us=100.0, per_half_cycle=1, phase=None):
    """Mains-synchronous damped-sinusoid bursts, per_half_cycle per half cycle, peak level_v."""
    out = np.zeros(n)
    half = fs / (2 * mains_hz)
    phase = rng.uniform(0, half) if phase is None else phase
    t0 = phase
    L = int(burst_us * 1e-6 * fs * 4)
    tt = np.arange(L) / fs
    while t0 < n:
        for _ in range(per_half_cycle):
            s = int(t0 + rng.uniform(-20e-6, 20e-6) * fs)
            f = rng.uniform(40e3, 150e3)
            b = (
                level_v
                * np.exp(-tt / (burst_us * 1e-6))
                * np.sin(2 * np.pi * f * tt + rng.uniform(0, 6.3))
            )
            e = min(n, s + L)
            if s >= 0 and e > s:
                out[s:e] += b[: e - s]
        t0 += half
    return out


def channel(
    tx_codes,
    *,
    ebn0_db=None,
    rate=0.5,
    atten_db=40.0,
    tx_vrms=1.0,
    ppm=0.0,
    cfo_hz=0.0,
    multipath=None,
    interferer=None,
    impulse_db=None,
    impulse_per_half_cycle=1,
    frontend="butter",
    lead_s=0.004,
    tail_s=0.004,
    seed=0,
    fs_tx=FS_TX,
    fs_rx=FS_RX,
    return_info=False,
):
    """Run tx_codes (uint16 DAC codes, mid 2048) through the channel; uint16 ADC codes out.

    ebn0_db: Eb/N0 in dB with Eb = received signal energy per data bit (rate = data bits per
    symbol: 0.5 coded, 1.0 to read the axis as Es/N0). None: no AWGN.
    ppm: RX sample clock relative to TX clock (+ = RX faster). cfo_hz: extra carrier offset.
    multipath: None or dict for zd_response (e.g. ZD4). interferer: (freq_hz, SIR dB).
    impulse_db: peak burst level in dB above the signal rms (mains-synchronous, 50 Hz).
    frontend: "butter" (4th-order band-pass 78-95 kHz), "ideal" (brickwall 76.8-96 kHz) or None.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(tx_codes, float) - 2048.0
    active = np.abs(x) > 0
    rms = np.sqrt(np.mean(x[active] ** 2)) if active.any() else 1.0
    x = x * (tx_vrms / rms)
    pad0, pad1 = int(lead_s * fs_tx), int(tail_s * fs_tx)
    x = np.concatenate([np.zeros(pad0), x, np.zeros(pad1)])
    act = np.zeros(len(x), bool)
    act[pad0 : pad0 + len(active)] = True
    if multipath:
        x = _fft_filter(x, fs_tx, lambda f: zd_response(f, **multipath))
    x *= 10 ** (-atten_db / 20)
    if cfo_hz:
        a = signal.hilbert(x)
        x = np.real(a * np.exp(2j * np.pi * cfo_hz * np.arange(len(x)) / fs_tx))
    p_sig = np.mean(x[act] ** 2)
    n = len(x)
    info = dict(p_sig=p_sig, vrms=np.sqrt(p_sig))
    if ebn0_db is not None:
        es = p_sig / SYMBOL_RATE
        n0 = es / rate / 10 ** (ebn0_db / 10)
        x = x + rng.normal(0, np.sqrt(n0 * fs_tx / 2), n)
        info["n0"] = n0
    if interferer:
        f, sir = interferer
        a = np.sqrt(2 * p_sig / 10 ** (sir / 10))
        x = x + a * np.cos(2 * np.pi * f * np.arange(n) / fs_tx + rng.uniform(0, 6.3))
    if impulse_db is not None:
        lv = np.sqrt(p_sig) * 10 ** (impulse_db / 20)
        x = x + impulsive(n, fs_tx, rng, lv, per_half_cycle=impulse_per_half_cycle)
    if frontend == "butter":
        sos = signal.butter(4, [78e3, 95e3], btype="band", fs=fs_tx, output="sos")
        x = signal.sosfilt(sos, x)
    elif frontend == "ideal":
        x = _fft_filter(x, fs_tx, lambda f: ((f >= 76.8e3) & (f <= 96e3)).astype(float))
    # sampling at the RX clock: band-limited interpolation (x8 polyphase) then linear
    up = 8
    xu = signal.resample_poly(x, up, 1)
    fs_u = fs_tx * up
    t0 = rng.uniform(0, 1 / fs_rx)
    tr = t0 + np.arange(int((n / fs_tx - t0) * fs_rx * (1 + ppm * 1e-6)) - 1) / (
        fs_rx * (1 + ppm * 1e-6)
    )
    y = np.interp(tr * fs_u, np.arange(len(xu)), xu)
    codes = y * 10 ** (AFE_GAIN_DB / 20) / (ADC_VREF / (1 << ADC_BITS)) + 2048
    out = np.clip(np.round(codes), 0, 4095).astype(np.uint16)
    return (out, info) if return_info else out


def ideal_rx(tx_codes, *, atten_db=40.0, tx_vrms=1.0, seed=0, fs_tx=FS_TX, fs_rx=FS_RX):
    """The noise-free part of channel(frontend="ideal", ppm=0): the signal after the brickwall
    sampled at fs_rx with a random phase (band-limited fractional delay in the same FFT), in ADC
    code units without the mid-scale offset; and its power p_sig (volts^2, as channel()).
    With add_awgn() this is channel()'s ideal/0 ppm model, cheap enough for long FER runs: the
    AWGN of a band exactly one Nyquist zone wide (76.8..96 kHz at 38.4 kHz) is i.i.d. at fs_rx."""
    rng = np.random.default_rng(seed)
    x = np.asarray(tx_codes, float) - 2048.0
    active = np.abs(x) > 0
    x = x * (tx_vrms / np.sqrt(np.mean(x[active] ** 2))) * 10 ** (-atten_db / 20)
    p_sig = float(np.mean(x[active] ** 2))
    t0 = rng.uniform(0, 1 / fs_rx)
    h = lambda f: ((f >= 76.8e3) & (f <= 96e3)) * np.exp(2j * np.pi * f * t0)  # noqa: E731
    y = _fft_filter(x, fs_tx, h)[:: fs_tx // fs_rx]
    return y * (10 ** (AFE_GAIN_DB / 20) / (ADC_VREF / (1 << ADC_BITS))), p_sig


def awgn_codes_rms(p_sig, ebn0_db, rate=0.5, fs_rx=FS_RX):
    """rms in ADC codes of channel()'s AWGN at Eb/N0 after the ideal front end: N0 * fs_rx / 2."""
    n0 = p_sig / SYMBOL_RATE / rate / 10 ** (ebn0_db / 10)
    return np.sqrt(n0 * fs_rx / 2) * 10 ** (AFE_GAIN_DB / 20) / (ADC_VREF / (1 << ADC_BITS))


def adc(y):
    """ADC code units (float, no offset) -> uint16 12-bit codes around mid-scale."""
    return np.clip(np.round(y + 2048), 0, 4095).astype(np.uint16)


def dbuv(vrms):
    return 20 * np.log10(vrms / 1e-6)
