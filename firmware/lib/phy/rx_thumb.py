"""The receiver's per-symbol loop in Thumb-2 assembler (armv7emsp only).

_sym(ring, S, hist, W): same contract as rx_viper._sym and bit-identical results (return value,
S, hist, W) on a 32-bit port; selected by phy.rx on the stm32 port; checked on an emulated
Cortex-M4 against the viper reference run in Unix MicroPython by
host_tests/py/test_thumb_kernels.py and on the board by phy.selftest.run().
  ring : array('h') of 2048 (the mixer ring), S : array('i') of 32 (rx_viper S_* indices),
  hist : array('i') of 256 (strobe I 0..127, Q 128..255, biased by 2**28),
  W    : the work area of rx_viper.work_buffer() (taps at byte W_TAPS = 60, matched-filter
         scratch at W_SCR = 16, coherent-check outputs at W_CS = 2620, block sums at
         W_BLK = 2652, frame at W_ZB = 3724)
Those offsets, the S indices and the coherent-check output indices are named consts below with
rx_viper's values (rx_viper is the one place they are defined; a test compares them), and the
emulator tests compare every word of S, hist and W.

One call runs the whole loop with no runtime call per symbol; every variable lives in S (biased
fields as rx_viper keeps them) and is loaded/stored around its use. Registers: r7 = S, r8 ring,
r9 hist, r10 W, r11 a copy of S; r8-r12 are saved and restored (MicroPython asm_thumb rule).
Products of two non-negative 32-bit fields (the coherent-check thresholds, best sync-word peak)
are compared unsigned, as the viper code compares them on the 64-bit port; the rx_viper clamp of
|z| to 2**14 keeps every product the Gardner error, level and frame store form inside 32 bits.
Internal subroutines (bl/bx lr):
  MF   matched filter, both rails at the strobe and half a symbol earlier, fully unrolled (one ldrh
       + sign extension per sample, one ldr + mul + add per product); when the 22 samples wrap at
       the end of the ring they are first copied in order to the scratch area. In: r0 = n0.
       Out: r4 ia, r5 ib, r6 ma, r3 mb; r7 reloaded from r11.
  COH  coherent correlation of the last 48 strobes with the known preamble tail + sync word
       (rx_viper._coh): three loops, the signs of the known symbols are immediates shifted out of
       r7 (a sentinel bit ends each loop), the pointer wraps at the end of the I half (r8), bias
       in r12, history base in lr; results to W + W_CS. Saves r4-r7, lr and r8.
  RESC the AGC step (rx_viper._rescale): r1 = 1 halves, 0 doubles the history; halving also
       scales the peak-search state in S.
"""

import micropython
from micropython import const

# Layout of S, W and the coherent-check outputs: the values of rx_viper (the one definition),
# repeated here as const() because the inline assembler takes only literals and consts of this
# module; host_tests/py/test_thumb_kernels.py checks every one against rx_viper.
_S_N0 = const(0)
_S_MU = const(1)
_S_TINT = const(2)
_S_PI = const(3)
_S_PQ = const(4)
_S_LVL = const(5)
_S_ZSH = const(6)
_S_STATE = const(7)
_S_DREG = const(8)
_S_ZIDX = const(9)
_S_CNT = const(12)
_S_NEED = const(13)
_S_GZ = const(14)
_S_BRE = const(15)
_S_BIM = const(16)
_S_HOLD = const(18)
_S_WPOS = const(19)
_S_BEST = const(21)
_S_SINCE = const(22)
_S_WIN = const(23)
_S_C1I = const(24)
_S_C1Q = const(25)
_S_C2I = const(26)
_S_C2Q = const(27)
_S_BESTE = const(28)
_S_ES = const(29)
_S_EM = const(30)
_S_JH = const(31)
_W_SCR = const(16)  # 22-sample matched-filter scratch (rx_viper.mf_buffer, word 4)
_W_TAPS = const(60)  # matched-filter taps as int32 (4 * rx_viper._MF_TAPS)
_W_CS = const(2620)  # coherent-check outputs (rx_viper.W_CS)
_W_BLK = const(2652)  # per-block z^2 sums (rx_viper.W_BLK)
_W_ZB = const(3724)  # frame buffer (rx_viper.W_ZB)
_CS_C1I = const(0)
_CS_C1Q = const(1)
_CS_C2I = const(2)
_CS_C2Q = const(3)
_CS_E = const(4)
_CS_C2 = const(5)
_CS_CS2 = const(6)
_CS_ES = const(7)


@micropython.asm_thumb
def _sym(r0, r1, r2, r3):
    mov(r4, r8)
    mov(r5, r9)
    mov(r6, r10)
    mov(r7, r11)
    push({r4, r5, r6, r7})
    mov(r4, r12)
    push({r4})
    mov(r8, r0)  # ring
    mov(r9, r2)  # hist
    mov(r10, r3)  # W
    mov(r11, r1)  # S
    mov(r7, r1)

    # ---------------- one symbol per pass while n0 + 11 <= wpos ----------------
    label(LOOP)
    ldr(r0, [r7, 4 * _S_N0])  # n0
    ldr(r1, [r7, 4 * _S_WPOS])  # wpos
    mov(r2, r0)
    add(r2, 11)
    cmp(r2, r1)
    ble(GO)
    mov(r0, 0)
    b(END)
    label(GO)
    bl(MF)
    # rails: n0 odd -> zi = ib, zq = ia, mi = mb, mq = ma; even -> ia, ib, ma, mb
    ldr(r0, [r7, 4 * _S_N0])
    lsl(r0, r0, 31)
    beq(EVEN)
    mov(r0, r4)
    mov(r4, r5)
    mov(r5, r0)
    mov(r0, r6)
    mov(r6, r3)
    mov(r3, r0)
    label(EVEN)
    # r4 zi, r5 zq, r6 mi, r3 mq: >> zsh, clamp to +-16383
    ldr(r0, [r7, 4 * _S_ZSH])  # zsh
    asr(r4, r0)
    asr(r5, r0)
    asr(r6, r0)
    asr(r3, r0)
    movw(r1, 16383)
    neg(r2, r1)
    cmp(r4, r1)
    it(gt)
    mov(r4, r1)
    cmp(r4, r2)
    it(lt)
    mov(r4, r2)
    cmp(r5, r1)
    it(gt)
    mov(r5, r1)
    cmp(r5, r2)
    it(lt)
    mov(r5, r2)
    cmp(r6, r1)
    it(gt)
    mov(r6, r1)
    cmp(r6, r2)
    it(lt)
    mov(r6, r2)
    cmp(r3, r1)
    it(gt)
    mov(r3, r1)
    cmp(r3, r2)
    it(lt)
    mov(r3, r2)
    # level: lvl += ((|zi| + |zq|) - lvl) >> 3
    mov(r0, r4)
    cmp(r0, 0)
    it(lt)
    neg(r0, r0)
    mov(r1, r5)
    cmp(r1, 0)
    it(lt)
    neg(r1, r1)
    add(r0, r0, r1)
    ldr(r1, [r7, 4 * _S_LVL])  # lvl
    sub(r0, r0, r1)
    asr(r0, r0, 3)
    add(r1, r1, r0)
    str(r1, [r7, 4 * _S_LVL])
    # block AGC (not in frame)
    ldr(r2, [r7, 4 * _S_STATE])  # state
    cmp(r2, 1)
    beq(AGCX)
    movw(r0, 1600)
    cmp(r1, r0)
    ble(AGCUP)
    asr(r1, r1, 1)
    str(r1, [r7, 4 * _S_LVL])  # lvl >>= 1
    ldr(r0, [r7, 4 * _S_ZSH])
    add(r0, 1)
    str(r0, [r7, 4 * _S_ZSH])  # zsh += 1
    asr(r4, r4, 1)
    asr(r5, r5, 1)
    asr(r6, r6, 1)
    asr(r3, r3, 1)
    movw(r0, 0)
    movt(r0, 4096)  # bias 2**28
    ldr(r1, [r7, 4 * _S_PI])
    sub(r1, r1, r0)
    asr(r1, r1, 1)
    add(r1, r1, r0)
    str(r1, [r7, 4 * _S_PI])  # pi >>= 1
    ldr(r1, [r7, 4 * _S_PQ])
    sub(r1, r1, r0)
    asr(r1, r1, 1)
    add(r1, r1, r0)
    str(r1, [r7, 4 * _S_PQ])  # pq >>= 1
    ldr(r1, [r7, 4 * _S_BEST])
    lsr(r1, r1, 2)
    str(r1, [r7, 4 * _S_BEST])  # best >>= 2
    mov(r1, 1)
    bl(RESC)
    mov(r0, 24)
    str(r0, [r7, 4 * _S_HOLD])  # hold = 24
    b(HOLD)
    label(AGCUP)
    movw(r0, 400)
    cmp(r1, r0)
    bge(HOLD)
    ldr(r0, [r7, 4 * _S_ZSH])
    cmp(r0, 0)
    ble(HOLD)  # zsh > 0
    ldr(r0, [r7, 4 * _S_HOLD])
    cmp(r0, 0)
    bne(HOLD)  # hold == 0
    cmp(r2, 0)
    bne(HOLD)  # state == 0
    mov(r1, 0)
    bl(RESC)
    ldr(r0, [r7, 4 * _S_ZSH])
    sub(r0, 1)
    str(r0, [r7, 4 * _S_ZSH])  # zsh -= 1
    ldr(r1, [r7, 4 * _S_LVL])
    lsl(r1, r1, 1)
    str(r1, [r7, 4 * _S_LVL])  # lvl <<= 1
    mov(r0, 24)
    str(r0, [r7, 4 * _S_HOLD])  # hold = 24
    label(HOLD)
    ldr(r0, [r7, 4 * _S_HOLD])
    cmp(r0, 0)
    ble(HOLDX)
    sub(r0, 1)
    str(r0, [r7, 4 * _S_HOLD])
    label(HOLDX)
    # strobe and mid energies for the hang-up escape (not in frame; used after the timing step)
    mov(r0, r4)
    mul(r0, r0)
    mov(r1, r5)
    mul(r1, r1)
    add(r0, r0, r1)
    asr(r0, r0, 6)
    ldr(r1, [r7, 4 * _S_ES])  # es
    sub(r0, r0, r1)
    asr(r0, r0, 3)
    add(r1, r1, r0)
    str(r1, [r7, 4 * _S_ES])
    mov(r0, r6)
    mul(r0, r0)
    mov(r1, r3)
    mul(r1, r1)
    add(r0, r0, r1)
    asr(r0, r0, 6)
    ldr(r1, [r7, 4 * _S_EM])  # em
    sub(r0, r0, r1)
    asr(r0, r0, 3)
    add(r1, r1, r0)
    str(r1, [r7, 4 * _S_EM])
    label(AGCX)
    # Gardner: e = (pi - zi) * mi + (pq - zq) * mq, en = e / max(1, lvl^2 >> 12) (truncated),
    # clamped to +-4096
    movw(r2, 0)
    movt(r2, 4096)  # bias 2**28
    ldr(r0, [r7, 4 * _S_PI])
    sub(r0, r0, r2)
    sub(r0, r0, r4)
    mul(r0, r6)
    ldr(r1, [r7, 4 * _S_PQ])
    sub(r1, r1, r2)
    sub(r1, r1, r5)
    mul(r1, r3)
    add(r0, r0, r1)
    ldr(r1, [r7, 4 * _S_LVL])
    mul(r1, r1)
    asr(r1, r1, 12)
    cmp(r1, 1)
    it(lt)
    mov(r1, 1)
    sdiv(r0, r0, r1)
    movw(r1, 4096)
    cmp(r0, r1)
    it(gt)
    mov(r0, r1)
    neg(r1, r1)
    cmp(r0, r1)
    it(lt)
    mov(r0, r1)
    # loop filter: search: tint leaks (tint -= tint >> 4), adj = (en * 400 + 128) >> 8;
    # in frame: tint += 2 en, adj = (en * 100 + 128) >> 8; tint clamped to +-25600
    mov(r6, r2)  # bias
    ldr(r1, [r7, 4 * _S_TINT])
    sub(r1, r1, r6)  # tint
    ldr(r2, [r7, 4 * _S_STATE])
    cmp(r2, 1)
    beq(TRK)
    asr(r3, r1, 4)
    sub(r1, r1, r3)
    movw(r3, 400)
    mul(r3, r0)
    b(TADJ)
    label(TRK)
    lsl(r3, r0, 1)
    add(r1, r1, r3)
    mov(r3, 100)
    mul(r3, r0)
    label(TADJ)
    add(r3, 128)
    asr(r3, r3, 8)  # adj
    movw(r2, 25600)
    cmp(r1, r2)
    it(gt)
    mov(r1, r2)
    neg(r2, r2)
    cmp(r1, r2)
    it(lt)
    mov(r1, r2)
    add(r0, r1, r6)
    str(r0, [r7, 4 * _S_TINT])  # tint
    add(r1, 128)
    asr(r1, r1, 8)
    add(r1, r1, r3)
    ldr(r0, [r7, 4 * _S_MU])  # mu
    add(r0, r0, r1)
    mov(r2, 1)
    lsl(r2, r2, 18)
    add(r0, r0, r2)  # mu += 262144 + ((tint + 128) >> 8) + adj
    # hang-up escape (not in frame): jump half a symbol when em > 1.5 es
    ldr(r2, [r7, 4 * _S_STATE])
    cmp(r2, 1)
    beq(NOJ)
    ldr(r1, [r7, 4 * _S_JH])  # jh
    cmp(r1, 0)
    ble(JCHK)
    sub(r1, 1)
    str(r1, [r7, 4 * _S_JH])
    b(NOJ)
    label(JCHK)
    ldr(r1, [r7, 4 * _S_ES])  # es
    ldr(r2, [r7, 4 * _S_EM])  # em
    asr(r3, r1, 1)
    add(r3, r3, r1)
    cmp(r2, r3)
    ble(NOJ)
    mov(r3, 1)
    lsl(r3, r3, 17)
    sub(r0, r0, r3)  # mu -= 131072
    str(r2, [r7, 4 * _S_ES])
    str(r1, [r7, 4 * _S_EM])  # swap es, em
    mov(r1, 16)
    str(r1, [r7, 4 * _S_JH])  # jh = 16
    label(NOJ)
    asr(r1, r0, 16)
    ldr(r2, [r7, 4 * _S_N0])
    add(r2, r2, r1)
    str(r2, [r7, 4 * _S_N0])  # n0 += mu >> 16
    lsl(r0, r0, 16)
    lsr(r0, r0, 16)
    str(r0, [r7, 4 * _S_MU])  # mu &= 0xFFFF
    ldr(r2, [r7, 4 * _S_STATE])
    cmp(r2, 1)
    bne(SRCH)

    # ---------------- in frame: int8 I/Q store, z^2 block sums ----------------
    add(r0, r4, r6)
    str(r0, [r7, 4 * _S_PI])  # pi = zi
    add(r0, r5, r6)
    str(r0, [r7, 4 * _S_PQ])  # pq = zq
    ldr(r6, [r7, 4 * _S_CNT])  # cnt
    ldr(r3, [r7, 4 * _S_GZ])  # gz
    mov(r2, 127)
    neg(r2, r2)
    mov(r0, r4)
    mul(r0, r3)
    asr(r0, r0, 16)  # xi
    cmp(r0, 127)
    it(gt)
    mov(r0, 127)
    cmp(r0, r2)
    it(lt)
    mov(r0, r2)
    mov(r1, r5)
    mul(r1, r3)
    asr(r1, r1, 16)  # xq
    cmp(r1, 127)
    it(gt)
    mov(r1, 127)
    cmp(r1, r2)
    it(lt)
    mov(r1, r2)
    mov(r2, r10)
    movw(r3, _W_ZB)
    add(r2, r2, r3)
    mov(r3, r6)
    add(r3, 48)  # g
    lsl(r3, r3, 1)
    add(r2, r2, r3)
    strb(r0, [r2, 0])
    strb(r1, [r2, 1])
    mov(r4, r0)
    mul(r4, r0)
    mov(r5, r1)
    mul(r5, r1)
    sub(r4, r4, r5)
    ldr(r5, [r7, 4 * _S_BRE])
    add(r5, r5, r4)
    str(r5, [r7, 4 * _S_BRE])  # bre += xi^2 - xq^2 (biased)
    mul(r0, r1)
    lsl(r0, r0, 1)
    ldr(r5, [r7, 4 * _S_BIM])
    add(r5, r5, r0)
    str(r5, [r7, 4 * _S_BIM])  # bim += 2 xi xq (biased)
    mov(r0, r6)
    add(r0, 48)  # g
    mov(r1, 31)
    and_(r1, r0)
    cmp(r1, 31)
    bne(NOBLK)
    lsr(r0, r0, 5)
    lsl(r0, r0, 3)
    mov(r2, r10)
    movw(r3, _W_BLK)
    add(r2, r2, r3)
    add(r2, r2, r0)  # &blk[2 (g >> 5)]
    ldr(r3, [r7, 4 * _S_BRE])
    str(r3, [r2, 0])
    ldr(r3, [r7, 4 * _S_BIM])
    str(r3, [r2, 4])
    movw(r3, 0)
    movt(r3, 4096)  # bias 2**28
    str(r3, [r7, 4 * _S_BRE])
    str(r3, [r7, 4 * _S_BIM])
    label(NOBLK)
    add(r6, 1)
    str(r6, [r7, 4 * _S_CNT])  # cnt += 1
    ldr(r0, [r7, 4 * _S_NEED])  # need
    cmp(r6, r0)
    bge(EV1)
    b(LOOP)
    label(EV1)
    mov(r0, 1)
    b(END)

    # ---------------- search / peak search: history, differential bits ----------------
    label(SRCH)
    ldr(r1, [r7, 4 * _S_ZIDX])  # zidx
    mov(r0, r9)
    lsl(r3, r1, 2)
    add(r0, r0, r3)
    add(r3, r4, r6)
    str(r3, [r0, 0])  # hist[zidx] = zi
    add(r3, r5, r6)
    movw(r2, 512)
    add(r0, r0, r2)
    str(r3, [r0, 0])  # hist[128 + zidx] = zq
    add(r1, 1)
    mov(r3, 127)
    and_(r1, r3)
    str(r1, [r7, 4 * _S_ZIDX])
    ldr(r0, [r7, 4 * _S_PI])
    sub(r0, r0, r6)
    mul(r0, r4)
    ldr(r1, [r7, 4 * _S_PQ])
    sub(r1, r1, r6)
    mul(r1, r5)
    add(r0, r0, r1)  # zi * pi + zq * pq
    ldr(r1, [r7, 4 * _S_DREG])
    lsl(r1, r1, 1)
    cmp(r0, 0)
    it(lt)
    add(r1, 1)
    lsl(r1, r1, 2)
    lsr(r1, r1, 2)
    str(r1, [r7, 4 * _S_DREG])  # dreg
    add(r0, r4, r6)
    str(r0, [r7, 4 * _S_PI])  # pi = zi
    add(r0, r5, r6)
    str(r0, [r7, 4 * _S_PQ])  # pq = zq
    ldr(r2, [r7, 4 * _S_STATE])
    cmp(r2, 2)
    beq(PEAK)
    # search: differential-bit errors against the sync word, popcount(dreg ^ DSYNC) <= 13
    movw(r0, 50035)
    movt(r0, 4936)  # DSYNC
    eor(r0, r1)
    lsr(r1, r0, 1)
    movw(r2, 0x5555)
    movt(r2, 0x5555)
    and_(r1, r2)
    sub(r0, r0, r1)
    movw(r2, 0x3333)
    movt(r2, 0x3333)
    lsr(r1, r0, 2)
    and_(r1, r2)
    and_(r0, r2)
    add(r0, r0, r1)
    lsr(r1, r0, 4)
    add(r0, r0, r1)
    movw(r2, 0x0F0F)
    movt(r2, 0x0F0F)
    and_(r0, r2)
    movw(r2, 0x0101)
    movt(r2, 0x0101)
    mul(r0, r2)
    lsr(r0, r0, 24)
    cmp(r0, 13)
    ble(DCOH)
    b(LOOP)
    label(DCOH)
    bl(COH)
    mov(r2, r10)
    movw(r3, _W_CS)
    add(r2, r2, r3)  # cs
    ldr(r0, [r2, 4 * _CS_C2])
    mov(r1, 5)
    mul(r0, r1)
    ldr(r1, [r2, 4 * _CS_E])
    mov(r3, 36)
    mul(r1, r3)
    cmp(r0, r1)
    bcs(PASS)  # |C|^2 * 5 >= E * 36
    ldr(r0, [r2, 4 * _CS_CS2])
    mov(r1, 5)
    mul(r0, r1)
    ldr(r1, [r2, 4 * _CS_ES])
    mov(r3, 40)
    mul(r1, r3)
    cmp(r0, r1)
    bcs(PASS)  # |Cs|^2 * 5 >= Es * 40
    b(LOOP)
    label(PASS)
    mov(r0, 2)
    str(r0, [r7, 4 * _S_STATE])  # state = 2
    mov(r0, 0)
    str(r0, [r7, 4 * _S_SINCE])  # since = 0
    bl(TAKE)
    b(LOOP)

    # peak search: keep the best sync-word peak; commit or give up PKCONF strobes after it
    label(PEAK)
    bl(COH)
    mov(r2, r10)
    movw(r3, _W_CS)
    add(r2, r2, r3)  # cs
    ldr(r0, [r2, 4 * _CS_CS2])
    ldr(r1, [r7, 4 * _S_BEST])
    cmp(r0, r1)
    bls(NOTBEST)
    mov(r0, 0)
    str(r0, [r7, 4 * _S_SINCE])  # since = 0
    bl(TAKE)
    b(PKCHK)
    label(NOTBEST)
    ldr(r0, [r7, 4 * _S_SINCE])
    add(r0, 1)
    str(r0, [r7, 4 * _S_SINCE])
    label(PKCHK)
    ldr(r0, [r7, 4 * _S_SINCE])
    cmp(r0, 24)
    bge(PKEND)
    b(LOOP)
    label(PKEND)
    ldr(r0, [r7, 4 * _S_BEST])
    mov(r1, 5)
    mul(r0, r1)
    ldr(r1, [r7, 4 * _S_BESTE])
    mov(r3, 40)
    mul(r1, r3)
    cmp(r0, r1)
    bcc(TOSRCH)  # best * 5 < BESTE * 40
    ldr(r0, [r7, 4 * _S_WIN])
    cmp(r0, 0)
    beq(TOSRCH)
    mov(r0, 2)  # commit: phy.rx runs rx_viper._sync
    b(END)
    label(TOSRCH)
    mov(r0, 0)
    str(r0, [r7, 4 * _S_STATE])
    b(LOOP)

    # TAKE: candidate from cs (r2): best, BESTE, win = |C|^2 * 5 >= E * 24, C1I..C2Q
    label(TAKE)
    ldr(r0, [r2, 4 * _CS_CS2])
    str(r0, [r7, 4 * _S_BEST])
    ldr(r0, [r2, 4 * _CS_ES])
    str(r0, [r7, 4 * _S_BESTE])
    ldr(r0, [r2, 4 * _CS_C2])
    mov(r1, 5)
    mul(r0, r1)
    ldr(r1, [r2, 4 * _CS_E])
    mov(r3, 24)
    mul(r1, r3)
    cmp(r0, r1)
    mov(r0, 0)
    it(cs)
    mov(r0, 1)
    str(r0, [r7, 4 * _S_WIN])
    ldr(r0, [r2, 4 * _CS_C1I])
    str(r0, [r7, 4 * _S_C1I])
    ldr(r0, [r2, 4 * _CS_C1Q])
    str(r0, [r7, 4 * _S_C1Q])
    ldr(r0, [r2, 4 * _CS_C2I])
    str(r0, [r7, 4 * _S_C2I])
    ldr(r0, [r2, 4 * _CS_C2Q])
    str(r0, [r7, 4 * _S_C2Q])
    bx(lr)

    # RESC: r1 = 1 halves, 0 doubles the strobe history; halving also scales BESTE and C1I..C2Q
    label(RESC)
    push({r3, r4, r5})
    mov(r2, r9)
    movw(r3, 0)
    movt(r3, 4096)  # bias 2**28
    movw(r4, 1024)
    add(r5, r2, r4)
    label(RL)
    ldr(r0, [r2, 0])
    sub(r0, r0, r3)
    cmp(r1, 0)
    ite(ne)
    asr(r0, r0, 1)
    lsl(r0, r0, 1)
    add(r0, r0, r3)
    str(r0, [r2, 0])
    add(r2, 4)
    cmp(r2, r5)
    bne(RL)
    cmp(r1, 0)
    beq(RX)
    ldr(r0, [r7, 4 * _S_BESTE])
    lsr(r0, r0, 2)
    str(r0, [r7, 4 * _S_BESTE])
    ldr(r0, [r7, 4 * _S_C1I])
    sub(r0, r0, r3)
    asr(r0, r0, 1)
    add(r0, r0, r3)
    str(r0, [r7, 4 * _S_C1I])
    ldr(r0, [r7, 4 * _S_C1Q])
    sub(r0, r0, r3)
    asr(r0, r0, 1)
    add(r0, r0, r3)
    str(r0, [r7, 4 * _S_C1Q])
    ldr(r0, [r7, 4 * _S_C2I])
    sub(r0, r0, r3)
    asr(r0, r0, 1)
    add(r0, r0, r3)
    str(r0, [r7, 4 * _S_C2I])
    ldr(r0, [r7, 4 * _S_C2Q])
    sub(r0, r0, r3)
    asr(r0, r0, 1)
    add(r0, r0, r3)
    str(r0, [r7, 4 * _S_C2Q])
    label(RX)
    pop({r3, r4, r5})
    bx(lr)

    # MF: r0 = n0 -> r4 ia, r5 ib, r6 ma, r3 mb (mu from S; taps at W + 60 + 80 * (mu >> 11))
    label(MF)
    ldr(r2, [r7, 4 * _S_MU])  # mu
    mov(r1, r0)
    sub(r1, 11)
    lsl(r1, r1, 21)
    lsr(r1, r1, 21)  # idx = (n0 - 11) & 2047
    lsr(r2, r2, 11)
    mov(r4, 80)
    mul(r2, r4)
    mov(r3, r10)
    add(r2, r2, r3)
    add(r2, _W_TAPS)  # taps of phase mu >> 11
    mov(r0, r8)  # ring
    movw(r4, 2026)
    cmp(r1, r4)
    bhi(WRAP)
    lsl(r1, r1, 1)
    add(r0, r0, r1)  # &ring[idx]: no wrap
    b(MAC)
    label(WRAP)
    mov(r5, r3)
    add(r5, _W_SCR)  # scratch
    mov(r4, 22)
    label(CP)
    lsl(r6, r1, 1)
    add(r6, r6, r0)
    ldrh(r6, [r6, 0])
    strh(r6, [r5, 0])
    add(r5, 2)
    add(r1, 1)
    lsl(r1, r1, 21)
    lsr(r1, r1, 21)
    sub(r4, 1)
    bne(CP)
    mov(r0, r3)
    add(r0, _W_SCR)
    label(MAC)
    mov(r1, r2)
    mov(r4, 0)
    mov(r5, 0)
    mov(r6, 0)
    mov(r7, 0)
    ldrh(r2, [r0, 0])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s0
    ldr(r3, [r1, 0])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s0 * h0
    ldrh(r2, [r0, 2])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s1
    ldr(r3, [r1, 4])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s1 * h1
    ldrh(r2, [r0, 4])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s2
    ldr(r3, [r1, 8])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s2 * h2
    ldr(r3, [r1, 0])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s2 * h0
    ldrh(r2, [r0, 6])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s3
    ldr(r3, [r1, 12])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s3 * h3
    ldr(r3, [r1, 4])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s3 * h1
    ldrh(r2, [r0, 8])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s4
    ldr(r3, [r1, 16])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s4 * h4
    ldr(r3, [r1, 8])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s4 * h2
    ldrh(r2, [r0, 10])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s5
    ldr(r3, [r1, 20])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s5 * h5
    ldr(r3, [r1, 12])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s5 * h3
    ldrh(r2, [r0, 12])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s6
    ldr(r3, [r1, 24])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s6 * h6
    ldr(r3, [r1, 16])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s6 * h4
    ldrh(r2, [r0, 14])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s7
    ldr(r3, [r1, 28])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s7 * h7
    ldr(r3, [r1, 20])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s7 * h5
    ldrh(r2, [r0, 16])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s8
    ldr(r3, [r1, 32])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s8 * h8
    ldr(r3, [r1, 24])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s8 * h6
    ldrh(r2, [r0, 18])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s9
    ldr(r3, [r1, 36])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s9 * h9
    ldr(r3, [r1, 28])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s9 * h7
    ldrh(r2, [r0, 20])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s10
    ldr(r3, [r1, 40])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s10 * h10
    ldr(r3, [r1, 32])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s10 * h8
    ldrh(r2, [r0, 22])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s11
    ldr(r3, [r1, 44])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s11 * h11
    ldr(r3, [r1, 36])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s11 * h9
    ldrh(r2, [r0, 24])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s12
    ldr(r3, [r1, 48])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s12 * h12
    ldr(r3, [r1, 40])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s12 * h10
    ldrh(r2, [r0, 26])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s13
    ldr(r3, [r1, 52])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s13 * h13
    ldr(r3, [r1, 44])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s13 * h11
    ldrh(r2, [r0, 28])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s14
    ldr(r3, [r1, 56])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s14 * h14
    ldr(r3, [r1, 48])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s14 * h12
    ldrh(r2, [r0, 30])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s15
    ldr(r3, [r1, 60])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s15 * h15
    ldr(r3, [r1, 52])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s15 * h13
    ldrh(r2, [r0, 32])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s16
    ldr(r3, [r1, 64])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s16 * h16
    ldr(r3, [r1, 56])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s16 * h14
    ldrh(r2, [r0, 34])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s17
    ldr(r3, [r1, 68])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s17 * h17
    ldr(r3, [r1, 60])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s17 * h15
    ldrh(r2, [r0, 36])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s18
    ldr(r3, [r1, 72])
    mul(r3, r2)
    add(r7, r7, r3)  # mb += s18 * h18
    ldr(r3, [r1, 64])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s18 * h16
    ldrh(r2, [r0, 38])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s19
    ldr(r3, [r1, 76])
    mul(r3, r2)
    add(r6, r6, r3)  # ma += s19 * h19
    ldr(r3, [r1, 68])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s19 * h17
    ldrh(r2, [r0, 40])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s20
    ldr(r3, [r1, 72])
    mul(r3, r2)
    add(r5, r5, r3)  # ib += s20 * h18
    ldrh(r2, [r0, 42])
    lsl(r2, r2, 16)
    asr(r2, r2, 16)  # s21
    ldr(r3, [r1, 76])
    mul(r3, r2)
    add(r4, r4, r3)  # ia += s21 * h19
    mov(r3, r7)  # mb
    mov(r7, r11)  # S
    bx(lr)

    # COH: coherent check of the 48 strobes before S[ZIDX] -> cs (W + 2620), rx_viper._coh
    label(COH)
    push({r4, r5, r6, r7, lr})
    mov(r3, r8)
    push({r3})
    ldr(r1, [r7, 4 * _S_ZIDX])  # zidx
    mov(r0, r9)
    mov(lr, r0)
    movw(r3, 512)
    add(r3, r3, r0)
    mov(r8, r3)  # end of the I half
    movw(r3, 0)
    movt(r3, 4096)  # bias 2**28
    mov(r12, r3)
    sub(r1, 48)
    mov(r3, 127)
    and_(r1, r3)
    lsl(r1, r1, 2)
    add(r0, r0, r1)  # &hist[(zidx - 48) & 127]
    # known symbols 0..15 (preamble tail): sign bits, sentinel above
    movw(r7, 43690)
    movt(r7, 1)
    mov(r4, 0)
    mov(r5, 0)
    mov(r6, 0)
    label(LA)
    ldr(r1, [r0, 0])
    movw(r3, 512)
    add(r3, r3, r0)
    ldr(r2, [r3, 0])
    mov(r3, r12)
    sub(r1, r1, r3)  # vi
    sub(r2, r2, r3)  # vq
    add(r0, 4)
    mov(r3, r8)
    cmp(r0, r3)
    bne(WA)
    mov(r0, lr)  # ring wrap
    label(WA)
    lsr(r7, r7, 1)  # carry = known symbol
    bcs(NA)
    add(r4, r4, r1)
    add(r5, r5, r2)
    b(SA)
    label(NA)
    sub(r4, r4, r1)
    sub(r5, r5, r2)
    label(SA)
    mul(r1, r1)
    mul(r2, r2)
    add(r1, r1, r2)
    asr(r1, r1, 6)
    add(r6, r6, r1)  # e = (vi * vi + vq * vq) >> 6
    cmp(r7, 1)
    bne(LA)
    push({r4, r5, r6})
    # 16..23 (first half and sync word): sign bits, sentinel above
    movw(r7, 326)
    mov(r4, 0)
    mov(r5, 0)
    mov(r6, 0)
    label(LB)
    ldr(r1, [r0, 0])
    movw(r3, 512)
    add(r3, r3, r0)
    ldr(r2, [r3, 0])
    mov(r3, r12)
    sub(r1, r1, r3)  # vi
    sub(r2, r2, r3)  # vq
    add(r0, 4)
    mov(r3, r8)
    cmp(r0, r3)
    bne(WB)
    mov(r0, lr)  # ring wrap
    label(WB)
    lsr(r7, r7, 1)  # carry = known symbol
    bcs(NB)
    add(r4, r4, r1)
    add(r5, r5, r2)
    b(SB)
    label(NB)
    sub(r4, r4, r1)
    sub(r5, r5, r2)
    label(SB)
    mul(r1, r1)
    mul(r2, r2)
    add(r1, r1, r2)
    asr(r1, r1, 6)
    add(r6, r6, r1)  # e = (vi * vi + vq * vq) >> 6
    cmp(r7, 1)
    bne(LB)
    push({r4, r5, r6})
    # 24..47 (second half, sync word): sign bits, sentinel above
    movw(r7, 16654)
    movt(r7, 442)
    mov(r4, 0)
    mov(r5, 0)
    mov(r6, 0)
    label(LC)
    ldr(r1, [r0, 0])
    movw(r3, 512)
    add(r3, r3, r0)
    ldr(r2, [r3, 0])
    mov(r3, r12)
    sub(r1, r1, r3)  # vi
    sub(r2, r2, r3)  # vq
    add(r0, 4)
    mov(r3, r8)
    cmp(r0, r3)
    bne(WC)
    mov(r0, lr)  # ring wrap
    label(WC)
    lsr(r7, r7, 1)  # carry = known symbol
    bcs(NC)
    add(r4, r4, r1)
    add(r5, r5, r2)
    b(SC)
    label(NC)
    sub(r4, r4, r1)
    sub(r5, r5, r2)
    label(SC)
    mul(r1, r1)
    mul(r2, r2)
    add(r1, r1, r2)
    asr(r1, r1, 6)
    add(r6, r6, r1)  # e = (vi * vi + vq * vq) >> 6
    cmp(r7, 1)
    bne(LC)
    push({r4, r5, r6})
    # sums: segment C (c2i, c2q, e), B, A on the stack, last pushed first
    pop({r4, r5, r6})
    pop({r1, r2, r3})
    add(r3, r3, r6)  # ens
    add(r1, r1, r4)  # csi (before >> 3)
    add(r2, r2, r5)  # csq
    pop({r0, r6, r7})
    add(r7, r7, r3)  # en2
    add(r0, r0, r1)
    sub(r0, r0, r4)  # c1i = A + B
    add(r6, r6, r2)
    sub(r6, r6, r5)  # c1q
    asr(r1, r1, 3)
    mul(r1, r1)
    asr(r2, r2, 3)
    mul(r2, r2)
    add(r1, r1, r2)  # |Cs|^2 / 64
    push({r3})
    mov(r2, r10)
    movw(r3, _W_CS)
    add(r2, r2, r3)  # cs
    pop({r3})
    str(r1, [r2, 4 * _CS_CS2])
    str(r3, [r2, 4 * _CS_ES])
    str(r7, [r2, 4 * _CS_E])
    add(r1, r0, r4)
    asr(r1, r1, 3)
    mul(r1, r1)
    add(r3, r6, r5)
    asr(r3, r3, 3)
    mul(r3, r3)
    add(r1, r1, r3)
    str(r1, [r2, 4 * _CS_C2])  # |C|^2 / 64
    mov(r3, r12)
    add(r0, r0, r3)
    str(r0, [r2, 4 * _CS_C1I])
    add(r6, r6, r3)
    str(r6, [r2, 4 * _CS_C1Q])
    add(r4, r4, r3)
    str(r4, [r2, 4 * _CS_C2I])
    add(r5, r5, r3)
    str(r5, [r2, 4 * _CS_C2Q])
    pop({r3})
    mov(r8, r3)
    pop({r4, r5, r6, r7, pc})

    # ---------------- return r0; restore r8-r12 ----------------
    label(END)
    pop({r4})
    mov(r12, r4)
    pop({r4, r5, r6, r7})
    mov(r8, r4)
    mov(r9, r5)
    mov(r10, r6)
    mov(r11, r7)
