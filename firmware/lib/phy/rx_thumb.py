"""Coherent sync check and matched filter in Thumb-2 assembler (armv7emsp only).

_coh: same contract as rx_viper._coh,
bit exact in out[0..7] with the viper function on a 32-bit port (all sums wrap modulo 2**32 as
viper's machine ints do there). Selected by phy.rx on the stm32 port; checked on an emulated
Cortex-M4 against the viper reference run in Unix MicroPython by
host_tests/py/test_thumb_kernels.py and on the board by phy.selftest.run().

_coh(hist, zidx, out)
  hist : array('i') of 256: strobe I (0..127) and Q (128..255), biased by 2**28
  zidx : write index of the history; the 48 strobes before it (mod 128) are correlated
  out  : array('i') of 8 (see rx_viper._coh)

Three loops (known symbols 0..15, 16..23, 24..47), one strobe per iteration: the signs of the
known symbols are immediates shifted out of r7 (a sentinel bit ends the loop), the pointer wraps
at the end of the I half. Registers: r0 I pointer, r1/r2 vi/vq, r3 scratch, r4/r5/r6 the
segment's I, Q and energy sums (pushed after each loop), r7 signs; r12 the bias, lr the history
base, r8 the end of the I half (r8 and r12 are saved on the stack and restored: MicroPython
requires R8-R12 to be restored before an assembler function returns).

_mf(ring, n0, mu, mf): same contract and bit-identical outputs as rx_viper._mf (selected by
phy.rx on the stm32 port, checked like _coh)
  ring : array('h') of 2048 (the receiver's mixer ring)
  n0   : strobe sample index (absolute; the 22 samples n0 - 11 .. n0 + 10, mod 2048, are used)
  mu   : strobe fraction, Q16 (0..65535): phase (mu >> 11) of the 32 polyphase tap sets
  mf   : array('i') from rx_viper.mf_buffer(): out[0..3] = ia, ib, ma, mb + 2**29, then a
         22-sample scratch (11 words), then the 32 x 20 taps as int32 (see rx_viper._mf)
Matched filter, both rails at the strobe and half a symbol earlier, fully unrolled: one ldrh +
sign extension per sample, one ldr + mul + add per product (r0 samples, r1 taps, r4..r7 ia, ib,
ma, mb). When the 22 samples wrap at the end of the ring they are first copied in order into the
scratch area and read from there. Uses r0-r7 only (R8-R12 untouched).
"""

import micropython


@micropython.asm_thumb
def _coh(r0, r1, r2):
    push({r2})
    mov(r3, r8)
    push({r3})
    mov(r3, r12)
    push({r3})  # r8 and r12 must be restored before return (MicroPython asm_thumb rule)
    mov(lr, r0)
    movw(r3, 512)
    add(r3, r3, r0)
    mov(r8, r3)  # end of the I half
    movw(r3, 0)
    movt(r3, 4096)
    mov(r12, r3)  # bias 2**28
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
    pop({r2})
    mov(lr, r2)  # caller's r12 (the history base is no longer needed)
    pop({r2})
    mov(r8, r2)
    pop({r2})  # out
    str(r1, [r2, 24])
    str(r3, [r2, 28])
    str(r7, [r2, 16])
    add(r1, r0, r4)
    asr(r1, r1, 3)
    mul(r1, r1)
    add(r3, r6, r5)
    asr(r3, r3, 3)
    mul(r3, r3)
    add(r1, r1, r3)
    str(r1, [r2, 20])  # |C|^2 / 64
    mov(r3, r12)
    add(r0, r0, r3)
    str(r0, [r2, 0])
    add(r6, r6, r3)
    str(r6, [r2, 4])
    add(r4, r4, r3)
    str(r4, [r2, 8])
    add(r5, r5, r3)
    str(r5, [r2, 12])
    mov(r12, lr)
    mov(r0, 0)


@micropython.asm_thumb
def _mf(r0, r1, r2, r3):
    push({r3})
    sub(r1, 11)
    lsl(r1, r1, 21)
    lsr(r1, r1, 21)  # idx = (n0 - 11) & 2047
    lsr(r2, r2, 11)
    mov(r4, 80)
    mul(r2, r4)
    add(r2, r2, r3)
    add(r2, 60)  # taps of phase mu >> 11: mf + 60 + 80 * (mu >> 11)
    movw(r4, 2026)
    cmp(r1, r4)
    bhi(WRAP)
    lsl(r1, r1, 1)
    add(r0, r0, r1)  # &ring[idx]: no wrap
    b(MAC)
    label(WRAP)
    mov(r5, r3)
    add(r5, 16)  # scratch
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
    add(r0, 16)
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
    pop({r0})
    movw(r3, 0)
    movt(r3, 8192)  # bias 2**29
    add(r4, r4, r3)
    str(r4, [r0, 0])
    add(r5, r5, r3)
    str(r5, [r0, 4])
    add(r6, r6, r3)
    str(r6, [r0, 8])
    add(r7, r7, r3)
    str(r7, [r0, 12])
    mov(r0, 0)
