"""Run our @micropython.asm_thumb kernels on an emulated Cortex-M4 (unicorn) from the host.

    code = extract(Path("firmware/lib/phy/kern_thumb.py"), "mix")   # machine code bytes
    res = run(code, [src_bytes, n, ring_bytearray, st_bytearray])   # -> Result(r0, bufs, insns)

How the function is found: the module is compiled with `mpy-cross -march=armv7emsp` and the
.mpy (v6) is parsed: header, qstr table, constant table, then the raw-code tree. An asm_thumb
function is a child raw code of kind native-asm (kind 5) whose fun_data is the machine code as
MicroPython will execute it (entry `push {r1, r4-r7, lr}` ... exit `pop {r1, r4-r7, pc}`),
followed by scope_flags, n_pos_args and type_sig. The v6 raw code carries no name, so the name
is mapped to a child index with CPython's `ast`: the module's children are created in source
order, one per def/class/lambda/comprehension in module scope. We only accept modules whose
module scope has plain `def`s (anything else raises), and we check that the chosen child is
native-asm with the def's number of arguments.

Calling convention (py/emitinlinethumb.c, mp_native call of asm functions): up to 4 arguments
in r0-r3; a small int is passed as its value, an object with the buffer protocol (bytearray,
array, memoryview) as a pointer to its data; r0 is the return value. Here an `int` argument is
passed as is (two's complement), a bytes-like argument is copied into emulated RAM and its
pointer passed; after the run the buffers are read back.
"""

import ast
import functools
import struct
import subprocess
import sys
import tempfile
from collections import namedtuple
from pathlib import Path

from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
from unicorn import arm_const as A

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mpenv import mpy_cross_exe  # noqa: E402

KIND_BYTECODE, KIND_NATIVE_PY, KIND_NATIVE_VIPER, KIND_NATIVE_ASM = 2, 3, 4, 5
ARCH_ARMV7EMSP = 7

CODE_BASE = 0x0800_0000
RAM_BASE = 0x2000_0000
RAM_SIZE = 0x0010_0000
STACK_TOP = RAM_BASE + RAM_SIZE - 0x100
STOP = CODE_BASE + 0x0F_0000  # LR on entry; the function's `pop {..., pc}` lands here

RawCode = namedtuple("RawCode", "kind data n_pos_args type_sig children")
Result = namedtuple("Result", "r0 bufs insns")


class _Reader:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def byte(self):
        b = self.d[self.i]
        self.i += 1
        return b

    def bytes(self, n):
        b = self.d[self.i : self.i + n]
        if len(b) != n:
            raise ValueError("truncated .mpy")
        self.i += n
        return b

    def uint(self):
        v = 0
        while True:
            b = self.byte()
            v = (v << 7) | (b & 0x7F)
            if not b & 0x80:
                return v


def _qstr(r):
    v = r.uint()
    if v & 1:
        return ("static", v >> 1)
    s = r.bytes(v >> 1)
    r.byte()  # NUL
    return s.decode()


def _obj(r):
    t = r.byte()
    if t in (1, 2, 3, 4):  # None, False, True, Ellipsis
        return t
    n = r.uint()
    if t in (5, 6):  # str, bytes (NUL terminated)
        v = r.bytes(n)
        r.byte()
        return v
    if t in (7, 8, 9):  # int, float, complex as text
        return r.bytes(n)
    if t == 10:  # tuple
        return tuple(_obj(r) for _ in range(n))
    raise ValueError("unsupported constant type %d" % t)


def _raw_code(r):
    kind_len = r.uint()
    kind = (kind_len & 3) + KIND_BYTECODE
    has_children = (kind_len >> 2) & 1
    data = r.bytes(kind_len >> 3)
    n_pos_args = type_sig = None
    if kind != KIND_BYTECODE:
        if kind == KIND_NATIVE_PY:
            r.uint()  # prelude offset
        else:
            r.uint()  # scope flags
            if kind == KIND_NATIVE_ASM:
                n_pos_args = r.uint()
                type_sig = r.uint()
    children = []
    if has_children:
        children = [_raw_code(r) for _ in range(r.uint())]
    return RawCode(kind, bytes(data), n_pos_args, type_sig, children)


def parse_mpy(data):
    """-> (qstrs, consts, root RawCode) of an mpy v6 file."""
    r = _Reader(data)
    if r.byte() != ord("M") or r.byte() != 6:
        raise ValueError("not an mpy v6 file")
    flags = r.byte()
    r.byte()  # small int bits
    arch = flags >> 2
    if arch != ARCH_ARMV7EMSP:
        raise ValueError("mpy arch %d is not armv7emsp" % arch)
    if flags & 0x3 != 3:
        raise ValueError("mpy sub-version %d (expected 3)" % (flags & 3))
    n_qstr = r.uint()
    n_obj = r.uint()
    qstrs = [_qstr(r) for _ in range(n_qstr)]
    consts = [_obj(r) for _ in range(n_obj)]
    root = _raw_code(r)
    if r.i != len(data):
        raise ValueError("trailing bytes after the raw-code tree")
    return qstrs, consts, root


def _module_children(source):
    """Names of the module's child raw codes in order (only plain module-level defs allowed)."""
    tree = ast.parse(source)
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for sub in node.args.defaults + node.decorator_list:
                for n in ast.walk(sub):
                    if isinstance(n, (ast.Lambda, ast.comprehension)):
                        raise ValueError("lambda/comprehension in a def header")
            names.append((node.name, len(node.args.args)))
            continue
        for n in ast.walk(node):
            if isinstance(
                n,
                (
                    ast.AsyncFunctionDef,
                    ast.ClassDef,
                    ast.Lambda,
                    ast.ListComp,
                    ast.SetComp,
                    ast.DictComp,
                    ast.GeneratorExp,
                ),
            ):
                raise ValueError("module scope must hold only plain defs: line %d" % n.lineno)
    return names


@functools.lru_cache(maxsize=None)
def _extract(path, name, mtime):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "m.mpy"
        subprocess.run(
            [mpy_cross_exe(), "-march=armv7emsp", "-o", str(out), str(path)],
            check=True,
            capture_output=True,
        )
        _, _, root = parse_mpy(out.read_bytes())
    names = _module_children(Path(path).read_text())
    if len(names) != len(root.children):
        raise ValueError("%d defs but %d child raw codes" % (len(names), len(root.children)))
    for (fname, nargs), rc in zip(names, root.children):
        if fname == name:
            if rc.kind != KIND_NATIVE_ASM or rc.n_pos_args != nargs:
                raise ValueError("%s is not an asm_thumb function of %d args" % (name, nargs))
            return rc.data
    raise KeyError(name)


def extract(path, name):
    """Machine code of asm_thumb function `name` in module file `path`, as mpy-cross emits it."""
    path = Path(path).resolve()
    return _extract(path, name, path.stat().st_mtime_ns)


def disasm(code, base=CODE_BASE):
    """Capstone listing (lines of 'addr: mnemonic ops'), for reading and debugging."""
    from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs

    md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
    return ["%08x: %s %s" % (i.address, i.mnemonic, i.op_str) for i in md.disasm(code, base)]


# Cortex-M4 cycle model for cycles=True (ARM Cortex-M4 TRM, "Processor instruction timings"),
# on the pessimistic side where the TRM gives a range: data processing, MOV, shifts, compares,
# IT and MUL 1; a load or store 2 (the TRM lets neighbouring ones pipeline to 1); PUSH/POP
# 1 + registers; SDIV/UDIV 12 (the TRM's 2..12, early termination not modelled); a taken branch,
# BL, BX or a POP into pc costs a pipeline refill of 3 more (the TRM's P = 1..3). No wait states
# (the code of an .mpy runs from SRAM) and no bus contention modelled.
_REFILL = 3


def _base_cycles(insn):
    m = insn.mnemonic.split(".")[0]
    if m in ("push", "pop", "ldm", "stm", "ldmia", "stmdb", "stmia"):
        return 1 + len(insn.operands)
    if m.startswith(("ldr", "str")):
        return 2
    if m in ("sdiv", "udiv"):
        return 12
    return 1


def run(code, args, max_insns=50_000_000, misalign=0, profile=False, cycles=False):
    """Call `code` with args (ints, or bytes-like copied to RAM at 64-byte boundaries + misalign).

    Returns Result(r0 as signed int32, [final contents of each buffer arg], executed instructions).
    With profile=True, insns is (total, {address: count}); with cycles=True it is
    (instructions, estimated Cortex-M4 cycles by the model above).
    """
    if len(args) > 4:
        raise ValueError("asm_thumb takes at most 4 arguments")
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M4)
    uc.mem_map(CODE_BASE, 0x10_0000)
    uc.mem_map(RAM_BASE, RAM_SIZE)
    uc.mem_write(CODE_BASE, bytes(code))
    regs = (A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3)
    addr = RAM_BASE + 0x1000
    bufs = []
    for reg, a in zip(regs, args):
        if isinstance(a, int):
            uc.reg_write(reg, a & 0xFFFFFFFF)
            continue
        b = bytes(a)
        p = addr + misalign
        uc.mem_write(p, b)
        uc.reg_write(reg, p)
        bufs.append((p, len(b)))
        addr = (p + len(b) + 64 + 63) & ~63
    uc.reg_write(A.UC_ARM_REG_SP, STACK_TOP)
    uc.reg_write(A.UC_ARM_REG_LR, STOP | 1)
    counter = [0]
    hist = {}

    if cycles:
        from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs

        md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
        md.detail = True
        cost = {}
        for insn in md.disasm(bytes(code), CODE_BASE):
            cost[insn.address] = _base_cycles(insn)
        state = [0, 0]  # cycles, expected next address

        def hook(uc, address, size, _):
            counter[0] += 1
            if state[1] and address != state[1]:
                state[0] += _REFILL  # the previous instruction branched
            state[0] += cost.get(address, 1)
            state[1] = address + size

    elif profile:

        def hook(uc, address, size, _):
            counter[0] += 1
            hist[address] = hist.get(address, 0) + 1

    else:

        def hook(uc, address, size, _):
            counter[0] += 1

    uc.hook_add(UC_HOOK_CODE, hook, begin=CODE_BASE, end=CODE_BASE + len(code) - 1)
    uc.emu_start(CODE_BASE | 1, STOP, count=max_insns)
    if uc.reg_read(A.UC_ARM_REG_PC) != STOP:
        raise RuntimeError("did not return (pc=%#x)" % uc.reg_read(A.UC_ARM_REG_PC))
    if uc.reg_read(A.UC_ARM_REG_SP) != STACK_TOP:
        raise RuntimeError("stack not balanced")
    r0 = struct.unpack("<i", struct.pack("<I", uc.reg_read(A.UC_ARM_REG_R0)))[0]
    out = [bytes(uc.mem_read(p, n)) for p, n in bufs]
    if cycles:
        # the final return (pop into pc / bx lr) leaves the code: count its refill too
        return Result(r0, out, (counter[0], state[0] + _REFILL))
    return Result(r0, out, (counter[0], hist) if profile else counter[0])


if __name__ == "__main__":
    mod, fn = sys.argv[1], sys.argv[2]
    print("\n".join(disasm(extract(mod, fn))))
