"""Independent reference for the coded curve: ideal coherent BPSK + AWGN, soft-decision Viterbi.

The decoder here is a separate numpy implementation (batched over frames, unquantised metrics,
full traceback from the terminating state) built on scikit-commpy's Trellis tables for the
171/133 K=7 code; `check_vs_commpy()` compares it with commpy's own viterbi_decode. It exists
because commpy's decoder runs ~500 bit/s, too slow for the 1e-5 region.
"""

import numpy as np


def _trellis():
    import commpy.channelcoding as cc

    return cc.Trellis(np.array([6]), np.array([[0o171, 0o133]]))


def _tables(tr):
    ns, out = tr.next_state_table, tr.output_table
    nst = tr.number_states
    pred = [[] for _ in range(nst)]
    for s in range(nst):
        for b in range(2):
            o = out[s, b]
            pred[ns[s, b]].append((s, b, (o >> 1) & 1, o & 1))
    p = np.array([[x[0] for x in pred[t]] for t in range(nst)])
    inp = np.array([[x[1] for x in pred[t]] for t in range(nst)])
    c = np.array([[[x[2], x[3]] for x in pred[t]] for t in range(nst)], float)
    return p, inp, 1 - 2 * c  # coded bit 0 -> +1


def encode(bits, tr=None):
    """(frames, nbits) 0/1 -> (frames, 2 * nbits) coded bits from commpy's trellis tables
    (vectorised over frames; equal to commpy conv_encode(..., 'cont'), see check_vs_commpy)."""
    tr = tr or _trellis()
    ns, out = tr.next_state_table, tr.output_table
    nf, nb = bits.shape
    c = np.zeros((nf, 2 * nb), np.int64)
    s = np.zeros(nf, int)
    for k in range(nb):
        o = out[s, bits[:, k]]
        c[:, 2 * k] = (o >> 1) & 1
        c[:, 2 * k + 1] = o & 1
        s = ns[s, bits[:, k]]
    return c


def viterbi(y, tr=None):
    """y: (frames, 2 * steps) received values (+1 = coded bit 0), terminated blocks -> bits."""
    tr = tr or _trellis()
    p, inp, sgn = _tables(tr)
    nf, n2 = y.shape
    steps = n2 // 2
    nst = p.shape[0]
    pm = np.full((nf, nst), -1e9)
    pm[:, 0] = 0.0
    dec = np.zeros((steps, nf, nst), np.uint8)
    for k in range(steps):
        y0 = y[:, 2 * k, None, None]
        y1 = y[:, 2 * k + 1, None, None]
        m = pm[:, p] + y0 * sgn[None, :, :, 0] + y1 * sgn[None, :, :, 1]  # (nf, nst, 2)
        ch = (m[:, :, 1] > m[:, :, 0]).astype(np.uint8)
        dec[k] = ch
        pm = np.where(ch, m[:, :, 1], m[:, :, 0])
    bits = np.zeros((nf, steps), np.uint8)
    s = np.zeros(nf, int)
    ar = np.arange(nf)
    for k in range(steps - 1, -1, -1):
        c = dec[k, ar, s]
        bits[:, k] = inp[s, c]
        s = p[s, c]
    return bits


def coded_point(ebn0, nframes, nbits, rng, batch=400):
    """BER and FER of ideal BPSK at Eb/N0 (dB) for nframes blocks of nbits (+6 tail)."""
    tr = _trellis()
    esn0 = 10 ** ((ebn0 - 10 * np.log10(2)) / 10)
    be = fe = 0
    done = 0
    while done < nframes:
        n = min(batch, nframes - done)
        bits = rng.integers(0, 2, (n, nbits + 6))
        bits[:, -6:] = 0
        coded = encode(bits, tr)
        y = (1.0 - 2 * coded) + rng.normal(0, np.sqrt(1 / (2 * esn0)), coded.shape)
        d = viterbi(y, tr)
        e = np.sum(d[:, :nbits] != bits[:, :nbits], axis=1)
        be += int(e.sum())
        fe += int(np.sum(e > 0))
        done += n
    return dict(ebn0=ebn0, ber=be / (nframes * nbits), fer=fe / nframes, frames=nframes)


def check_vs_commpy(ebn0=2.5, nframes=20, nbits=300, seed=3):
    """Bit errors of this decoder and of commpy.viterbi_decode on the same noisy blocks (the
    encoder is checked bit-exact against commpy.conv_encode first)."""
    import commpy.channelcoding as cc

    rng = np.random.default_rng(seed)
    tr = _trellis()
    esn0 = 10 ** ((ebn0 - 10 * np.log10(2)) / 10)
    bits = rng.integers(0, 2, (nframes, nbits + 6))
    bits[:, -6:] = 0
    coded = np.array([cc.conv_encode(b, tr, "cont") for b in bits])
    if not np.array_equal(coded, encode(bits, tr)):
        raise AssertionError("encoder differs from commpy")
    y = (1.0 - 2 * coded) + rng.normal(0, np.sqrt(1 / (2 * esn0)), coded.shape)
    ours = viterbi(y, tr)[:, :nbits]
    ref = np.array(
        [cc.viterbi_decode(-yy, tr, tb_depth=42, decoding_type="unquantized") for yy in y]
    )[:, :nbits]
    return int(np.sum(ours != bits[:, :nbits])), int(np.sum(ref != bits[:, :nbits]))


if __name__ == "__main__":
    import sys

    print("errors ours/commpy:", check_vs_commpy())
    rng = np.random.default_rng(1)
    for e in map(float, sys.argv[1:]):
        r = coded_point(e, 2000, 1056, rng)
        print("Eb/N0 %.2f  BER %.2e  FER %.4f" % (e, r["ber"], r["fer"]))
