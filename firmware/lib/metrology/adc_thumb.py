"""Direct-ADC metering kernel in Thumb-2 assembler (armv7emsp only): the same contract as
adc_viper.run(buf, n, st, ring) -> pairs in the period, bit exact with it (host_tests/py/
test_adc_thumb.py runs both on the same blocks: this one on an emulated Cortex-M4).

How it gets a pair down to ~35 instructions (docs/metrology_adc.md "Kernel"):
  * one word load reads the (V, I) pair; SSUB16 removes both offsets at once (dc packed in r8);
    SMLALBB / SMLATT / SMLABT accumulate v*v (64 bits in r10:r11), i*i (r12), v*i (lr), and
    SMLABT vd*i (r9); the raw pair is also added into r1, whose two 16-bit halves sum V and I
    codes without carrying for up to 16 pairs (16 * 4095 < 2^16);
  * the delay line is mirrored (each code stored at p and p + 64), so one unaligned word load
    gives both interpolation neighbours and SMUAD weights them;
  * clipping: USUB16 by 1 then UADD16 by 0xF002 per half sets a GE flag exactly when a code is
    0 or >= 4095 (MRS, shift, branch);
  * everything that happens at a sample count (the 16-pair chunk fold of the 32-bit sums into
    the (hi, lo) words, the delay-line wrap, a cycle reaching cmax, the block end) is reduced
    to one pointer compare per pair: the loop stops at the nearest of them (IEND) and EVENTS
    handles whichever is due; the cycle's sample count and v*v sum are differences of the
    pointer and of the 64-bit v*v sum against their values at the cycle start;
  * the crossing state picks one of two copies of the loop (not armed / armed).
Scratch words st[28..44] (byte offsets 112..176) hold the constants and event pointers; the
front-end allocates ST_WORDS. DSP instructions the MicroPython assembler lacks are emitted with
data(), each with its disassembly in the comment. Codes are 12-bit (0..4095) as the contract says.
"""

import micropython


@micropython.asm_thumb
def run(r0, r1, r2, r3):
    # save r8-r12 (restored at RET, MicroPython's asm_thumb rule)
    mov(r4, r8)
    mov(r5, r9)
    mov(r6, r10)
    mov(r7, r11)
    push({r4, r5, r6, r7})
    mov(r4, r12)
    push({r4})
    cmp(r1, 0)
    bne(START)
    b(RET)
    label(START)
    lsl(r4, r1, 2)
    add(r4, r0, r4)
    data(2, 0xF8C2, 0x4088)  # str.w r4, [r2, #0x88]; END = buf + 4n
    data(2, 0xF8C2, 0x0094)  # str.w r0, [r2, #0x94]; BUF0
    data(2, 0xF8C2, 0x10B0)  # str.w r1, [r2, #0xb0]; N
    ldr(r4, [r2, 0])
    lsl(r4, r4, 2)
    sub(r4, r0, r4)
    data(2, 0xF8C2, 0x4090)  # str.w r4, [r2, #0x90]; KB = buf - 4 * k0: pair k sits at KB + 4k
    ldr(r4, [r2, 76])
    lsl(r4, r4, 2)
    sub(r4, r0, r4)
    data(
        2, 0xF8C2, 0x4098
    )  # str.w r4, [r2, #0x98]; CYB = buf - 4 * cn: the current cycle's first pair
    ldr(r5, [r2, 100])
    lsl(r5, r5, 2)
    add(r4, r4, r5)
    data(
        2, 0xF8C2, 0x40A0
    )  # str.w r4, [r2, #0xa0]; CL = CYB + 4 * cmax: the cycle closes when the pointer gets there
    ldr(r4, [r2, 80])
    neg(r4, r4)
    data(2, 0xF8C2, 0x409C)  # str.w r4, [r2, #0x9c]; CV = -cs: cs = vv_lo - CV
    data(2, 0xF8C2, 0x30A8)  # str.w r3, [r2, #0xa8]; RING
    ldr(r4, [r2, 56])
    lsl(r4, r4, 26)
    lsr(r4, r4, 25)
    add(r3, r3, r4)  # rp = ring + 2 * (w & 63)
    ldr(r4, [r2, 52])
    asr(r5, r4, 8)
    add(r5, r5, r5)
    movw(r6, 126)
    sub(r6, r6, r5)
    str(r6, [r2, 112])  # OFF = 126 - 2D: rp + OFF holds (b, a) = samples w-D-1, w-D
    movw(r6, 255)
    and_(r4, r6)
    movw(r5, 256)
    sub(r5, r5, r4)
    lsl(r5, r5, 16)
    orr(r5, r4)
    str(r5, [r2, 116])  # M = m1 | m0 << 16
    ldr(r4, [r2, 44])
    lsl(r5, r4, 8)
    movw(r6, 128)
    sub(r6, r6, r5)
    str(r6, [r2, 120])  # C = 128 - 256 dcv
    ldr(r5, [r2, 48])
    lsl(r5, r5, 16)
    orr(r5, r4)
    mov(r8, r5)  # dcv | dci << 16
    ldr(r4, [r2, 92])
    neg(r4, r4)
    str(r4, [r2, 124])  # -hys
    movw(r4, 1)
    movt(r4, 1)
    data(2, 0xF8C2, 0x4080)  # str.w r4, [r2, #0x80]; K1
    movw(r4, 0xF002)
    movt(r4, 0xF002)
    data(2, 0xF8C2, 0x4084)  # str.w r4, [r2, #0x84]; K2
    ldr(r4, [r2, 60])
    data(2, 0xF8C2, 0x40AC)  # str.w r4, [r2, #0xac]; ARM
    movw(r1, 0)
    mov(r9, r1)
    mov(r10, r1)
    mov(r11, r1)
    mov(r12, r1)
    data(2, 0x468E)  # mov lr, r1
    movw(r5, 64)
    add(r4, r0, r5)
    data(2, 0xF8C2, 0x40A4)  # str.w r4, [r2, #0xa4]; CHE = first chunk end (16 pairs)
    b(EVENTS)
    # --- per pair, not armed ---------------------------------------------------------------
    label(LOOPU)
    ldr(r4, [r0, 0])
    add(r0, r0, 4)
    add(r1, r1, r4)
    data(2, 0xFAD4, 0xF508)  # ssub16 r5, r4, r8
    data(2, 0xFBC5, 0xAB85)  # smlalbb sl, fp, r5, r5
    data(2, 0xFB15, 0xCC35)  # smlatt ip, r5, r5, ip
    data(2, 0xFB15, 0xEE15)  # smlabt lr, r5, r5, lr
    strh(r4, [r3, 0])
    data(2, 0xF8A3, 0x4080)  # strh.w r4, [r3, #0x80]
    ldr(r6, [r2, 112])
    data(2, 0x599E)  # ldr r6, [r3, r6]
    ldr(r7, [r2, 116])
    data(2, 0xFB26, 0xF607)  # smuad r6, r6, r7
    ldr(r7, [r2, 120])
    add(r6, r6, r7)
    asr(r6, r6, 8)
    data(2, 0xFB16, 0x9915)  # smlabt sb, r6, r5, sb
    add(r3, r3, 2)
    data(2, 0xF8D2, 0x7080)  # ldr.w r7, [r2, #0x80]
    data(2, 0xFAD4, 0xF747)  # usub16 r7, r4, r7
    data(2, 0xF8D2, 0x6084)  # ldr.w r6, [r2, #0x84]
    data(2, 0xFA97, 0xF746)  # uadd16 r7, r7, r6
    data(2, 0xF3EF, 0x8700)  # mrs r7, apsr
    lsl(r7, r7, 12)
    bne(CLIPU)
    label(BACKU)
    data(2, 0xB22E)  # sxth r6, r5
    ldr(r7, [r2, 124])
    cmp(r6, r7)
    blt(ARM)
    label(TAILU)
    data(2, 0xF8D2, 0x708C)  # ldr.w r7, [r2, #0x8c]
    cmp(r0, r7)
    bcc(LOOPU)
    b(EVENTS)
    label(CLIPU)
    ldr(r7, [r2, 108])
    add(r7, r7, 1)
    str(r7, [r2, 108])
    b(BACKU)
    label(ARM)
    movw(r7, 1)
    data(2, 0xF8C2, 0x70AC)  # str.w r7, [r2, #0xac]
    b(TAILA)
    # --- per pair, armed ---------------------------------------------------------------------
    label(LOOPA)
    ldr(r4, [r0, 0])
    add(r0, r0, 4)
    add(r1, r1, r4)
    data(2, 0xFAD4, 0xF508)  # ssub16 r5, r4, r8
    data(2, 0xFBC5, 0xAB85)  # smlalbb sl, fp, r5, r5
    data(2, 0xFB15, 0xCC35)  # smlatt ip, r5, r5, ip
    data(2, 0xFB15, 0xEE15)  # smlabt lr, r5, r5, lr
    strh(r4, [r3, 0])
    data(2, 0xF8A3, 0x4080)  # strh.w r4, [r3, #0x80]
    ldr(r6, [r2, 112])
    data(2, 0x599E)  # ldr r6, [r3, r6]
    ldr(r7, [r2, 116])
    data(2, 0xFB26, 0xF607)  # smuad r6, r6, r7
    ldr(r7, [r2, 120])
    add(r6, r6, r7)
    asr(r6, r6, 8)
    data(2, 0xFB16, 0x9915)  # smlabt sb, r6, r5, sb
    add(r3, r3, 2)
    data(2, 0xF8D2, 0x7080)  # ldr.w r7, [r2, #0x80]
    data(2, 0xFAD4, 0xF747)  # usub16 r7, r4, r7
    data(2, 0xF8D2, 0x6084)  # ldr.w r6, [r2, #0x84]
    data(2, 0xFA97, 0xF746)  # uadd16 r7, r7, r6
    data(2, 0xF3EF, 0x8700)  # mrs r7, apsr
    lsl(r7, r7, 12)
    bne(CLIPA)
    label(BACKA)
    data(2, 0xB22E)  # sxth r6, r5
    cmp(r6, 0)
    bge(CROSS)
    label(TAILA)
    data(2, 0xF8D2, 0x708C)  # ldr.w r7, [r2, #0x8c]
    cmp(r0, r7)
    bcc(LOOPA)
    b(EVENTS)
    label(CLIPA)
    ldr(r7, [r2, 108])
    add(r7, r7, 1)
    str(r7, [r2, 108])
    b(BACKA)
    # --- a positive-going crossing at the pair before r0 (r6 = v >= 0) -----------------------
    label(CROSS)
    movw(r7, 0)
    data(2, 0xF8C2, 0x70AC)  # str.w r7, [r2, #0xac]
    sub(r4, r0, 4)
    data(2, 0xF8D2, 0x7094)  # ldr.w r7, [r2, #0x94]
    cmp(r4, r7)
    bne(PREVBUF)
    ldr(r7, [r2, 104])
    movw(r4, 8192)
    sub(r7, r7, r4)
    b(PREVOK)
    label(PREVBUF)
    sub(r4, r4, 4)
    ldr(r7, [r4, 0])
    data(2, 0xFAD7, 0xF708)  # ssub16 r7, r7, r8
    data(2, 0xB23F)  # sxth r7, r7
    label(PREVOK)
    sub(r4, r6, r7)
    neg(r5, r7)
    lsl(r5, r5, 12)
    sdiv(r5, r5, r4)
    data(2, 0xF8D2, 0x4090)  # ldr.w r4, [r2, #0x90]
    sub(r4, r0, r4)
    sub(r4, r4, 4)
    sub(r4, r4, 4)
    asr(r4, r4, 2)
    lsl(r4, r4, 12)
    add(r5, r5, r4)
    ldr(r4, [r2, 64])
    cmp(r4, 0)
    bne(NOTFIRST)
    str(r5, [r2, 68])
    label(NOTFIRST)
    str(r5, [r2, 72])
    add(r4, r4, 1)
    str(r4, [r2, 64])
    mov(r4, r6)
    mul(r4, r6)
    mov(r5, r10)
    sub(r5, r5, r4)
    data(2, 0xF8D2, 0x709C)  # ldr.w r7, [r2, #0x9c]
    data(2, 0xF8C2, 0x509C)  # str.w r5, [r2, #0x9c]
    sub(r5, r5, r7)
    data(2, 0xF8D2, 0x7098)  # ldr.w r7, [r2, #0x98]
    sub(r4, r0, 4)
    data(2, 0xF8C2, 0x4098)  # str.w r4, [r2, #0x98]
    sub(r7, r4, r7)
    asr(r7, r7, 2)
    ldr(r4, [r2, 96])
    cmp(r7, r4)
    blt(NOCLOSE)
    sdiv(r5, r5, r7)
    ldr(r6, [r2, 84])
    cmp(r5, r6)
    bge(X1)
    str(r5, [r2, 84])
    label(X1)
    ldr(r6, [r2, 88])
    cmp(r5, r6)
    ble(X2)
    str(r5, [r2, 88])
    label(X2)
    label(NOCLOSE)
    data(2, 0xF8D2, 0x4098)  # ldr.w r4, [r2, #0x98]
    ldr(r5, [r2, 100])
    lsl(r5, r5, 2)
    add(r4, r4, r5)
    data(2, 0xF8C2, 0x40A0)  # str.w r4, [r2, #0xa0]
    # --- events: chunk fold, delay-line wrap, cycle at cmax, end; next stop; dispatch ---------
    label(EVENTS)
    data(2, 0xF8D2, 0x40A4)  # ldr.w r4, [r2, #0xa4]
    cmp(r0, r4)
    bcs(FOLD)
    data(2, 0xF8D2, 0x4088)  # ldr.w r4, [r2, #0x88]
    cmp(r0, r4)
    bcc(NOFOLD)
    label(FOLD)
    movw(r7, 0xFFFF)
    movt(r7, 0xFF)
    mov(r4, r12)
    ldr(r5, [r2, 24])
    add(r5, r5, r4)
    asr(r6, r5, 24)
    and_(r5, r7)
    str(r5, [r2, 24])
    ldr(r4, [r2, 20])
    add(r4, r4, r6)
    str(r4, [r2, 20])
    data(2, 0x4674)  # mov r4, lr
    ldr(r5, [r2, 32])
    add(r5, r5, r4)
    asr(r6, r5, 24)
    and_(r5, r7)
    str(r5, [r2, 32])
    ldr(r4, [r2, 28])
    add(r4, r4, r6)
    str(r4, [r2, 28])
    mov(r4, r9)
    ldr(r5, [r2, 40])
    add(r5, r5, r4)
    asr(r6, r5, 24)
    and_(r5, r7)
    str(r5, [r2, 40])
    ldr(r4, [r2, 36])
    add(r4, r4, r6)
    str(r4, [r2, 36])
    movw(r4, 0)
    mov(r9, r4)
    mov(r12, r4)
    data(2, 0x46A6)  # mov lr, r4
    lsl(r4, r1, 16)
    lsr(r4, r4, 16)
    ldr(r5, [r2, 4])
    add(r5, r5, r4)
    str(r5, [r2, 4])
    lsr(r4, r1, 16)
    ldr(r5, [r2, 8])
    add(r5, r5, r4)
    str(r5, [r2, 8])
    movw(r1, 0)
    movw(r5, 64)
    add(r4, r0, r5)
    data(2, 0xF8C2, 0x40A4)  # str.w r4, [r2, #0xa4]
    label(NOFOLD)
    data(2, 0xF8D2, 0x40A8)  # ldr.w r4, [r2, #0xa8]
    movw(r5, 128)
    add(r4, r4, r5)
    cmp(r3, r4)
    bcc(NOWRAP)
    sub(r3, r3, r5)
    label(NOWRAP)
    data(2, 0xF8D2, 0x40A0)  # ldr.w r4, [r2, #0xa0]
    cmp(r0, r4)
    bcc(NOCMAX)
    mov(r5, r10)
    data(2, 0xF8D2, 0x609C)  # ldr.w r6, [r2, #0x9c]
    sub(r5, r5, r6)
    ldr(r6, [r2, 100])
    sdiv(r5, r5, r6)
    ldr(r6, [r2, 84])
    cmp(r5, r6)
    bge(X3)
    str(r5, [r2, 84])
    label(X3)
    ldr(r6, [r2, 88])
    cmp(r5, r6)
    ble(X4)
    str(r5, [r2, 88])
    label(X4)
    data(2, 0xF8C2, 0x0098)  # str.w r0, [r2, #0x98]
    mov(r5, r10)
    data(2, 0xF8C2, 0x509C)  # str.w r5, [r2, #0x9c]
    ldr(r5, [r2, 100])
    lsl(r5, r5, 2)
    add(r5, r0, r5)
    data(2, 0xF8C2, 0x50A0)  # str.w r5, [r2, #0xa0]
    label(NOCMAX)
    data(2, 0xF8D2, 0x4088)  # ldr.w r4, [r2, #0x88]
    cmp(r0, r4)
    bcs(EXIT)
    data(2, 0xF8D2, 0x50A0)  # ldr.w r5, [r2, #0xa0]
    cmp(r5, r4)
    bcs(M1)
    mov(r4, r5)
    label(M1)
    data(2, 0xF8D2, 0x50A4)  # ldr.w r5, [r2, #0xa4]
    cmp(r5, r4)
    bcs(M2)
    mov(r4, r5)
    label(M2)
    data(2, 0xF8D2, 0x50A8)  # ldr.w r5, [r2, #0xa8]
    movw(r6, 128)
    add(r5, r5, r6)
    sub(r5, r5, r3)
    add(r5, r5, r5)
    add(r5, r5, r0)
    cmp(r5, r4)
    bcs(M3)
    mov(r4, r5)
    label(M3)
    data(2, 0xF8C2, 0x408C)  # str.w r4, [r2, #0x8c]
    data(2, 0xF8D2, 0x40AC)  # ldr.w r4, [r2, #0xac]
    cmp(r4, 0)
    beq(GOU)
    b(LOOPA)
    label(GOU)
    b(LOOPU)
    # --- end of the block: the 64-bit v*v sum into (hi, lo), offsets, counters, state --------
    label(EXIT)
    movw(r7, 0xFFFF)
    movt(r7, 0xFF)
    mov(r4, r10)
    and_(r4, r7)
    ldr(r5, [r2, 16])
    add(r5, r5, r4)
    asr(r6, r5, 24)
    and_(r5, r7)
    str(r5, [r2, 16])
    mov(r4, r10)
    lsr(r4, r4, 24)
    add(r6, r6, r4)
    mov(r4, r11)
    lsl(r4, r4, 8)
    add(r6, r6, r4)
    ldr(r4, [r2, 12])
    add(r4, r4, r6)
    str(r4, [r2, 12])
    data(2, 0xF8D2, 0x40B0)  # ldr.w r4, [r2, #0xb0]
    ldr(r5, [r2, 44])
    mul(r5, r4)
    ldr(r6, [r2, 4])
    sub(r6, r6, r5)
    str(r6, [r2, 4])
    ldr(r5, [r2, 48])
    mul(r5, r4)
    ldr(r6, [r2, 8])
    sub(r6, r6, r5)
    str(r6, [r2, 8])
    ldr(r5, [r2, 0])
    add(r5, r5, r4)
    str(r5, [r2, 0])
    ldr(r5, [r2, 56])
    add(r5, r5, r4)
    str(r5, [r2, 56])
    data(2, 0xF8D2, 0x50AC)  # ldr.w r5, [r2, #0xac]
    str(r5, [r2, 60])
    data(2, 0xF8D2, 0x5098)  # ldr.w r5, [r2, #0x98]
    sub(r5, r0, r5)
    asr(r5, r5, 2)
    str(r5, [r2, 76])
    mov(r5, r10)
    data(2, 0xF8D2, 0x609C)  # ldr.w r6, [r2, #0x9c]
    sub(r5, r5, r6)
    str(r5, [r2, 80])
    sub(r4, r0, 4)
    ldr(r4, [r4, 0])
    data(2, 0xFAD4, 0xF408)  # ssub16 r4, r4, r8
    data(2, 0xB224)  # sxth r4, r4
    movw(r5, 8192)
    add(r4, r4, r5)
    str(r4, [r2, 104])
    label(RET)
    pop({r4})
    mov(r12, r4)
    pop({r4, r5, r6, r7})
    mov(r8, r4)
    mov(r9, r5)
    mov(r10, r6)
    mov(r11, r7)
    ldr(r0, [r2, 0])
