"""Coherent sync check in Thumb-2 assembler (armv7emsp only): same contract as rx_viper._coh,
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
