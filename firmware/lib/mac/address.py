"""Addresses (docs/datalink.md §2): ACA byte order, SCA, broadcast, route-entry size.

The MAC handles every ACA in wire order. The mapping from the stored (config) order to the wire
order and the choice of the AL filter byte ACA_AL[0] live here and nowhere else: both need
verification against a certified concentrator (Microchip's AL stores the ACA reversed from the
DLL value and marks it "review endianness").
"""

from micropython import const

# True: the config stores the ACA in reverse of the transmitted order. Default: identity.
ACA_REVERSED = False
# Index into the wire-order ACA of the byte used as ACA_AL[0] by the ADDRESS.REQ filter.
AL0_INDEX = const(0)

BROADCAST = b"\xff\xff\xff\xff\xff\x03"
_SCA_TAG = const(0x03)


def aca_wire(stored, reversed_order=ACA_REVERSED):
    """The 6 ACA bytes in transmission order from the stored (config) order."""
    b = bytes(stored)
    if len(b) != 6:
        raise ValueError("ACA must be 6 bytes")
    if reversed_order:
        return bytes(b[5 - i] for i in range(6))
    return b


def al0(aca, index=AL0_INDEX):
    """ACA_AL[0] for the ADDRESS.REQ filter, from a wire-order ACA."""
    return aca[index]


def eq6(buf, off, ref):
    """buf[off:off+6] == ref, without allocating."""
    for i in range(6):
        if buf[off + i] != ref[i]:
            return False
    return True


def is_broadcast(buf, off):
    return eq6(buf, off, BROADCAST)


def is_sca_mode(buf, off):
    """ADDRESS at buf[off] is an SCA (byte 5 == 0x03) and not the broadcast address."""
    return buf[off + 5] == _SCA_TAG and not eq6(buf, off, BROADCAST)


def entry_size(buf, off):
    """Route entry size for a frame whose ADDRESS starts at buf[off]: 2 in SCA mode, else 6."""
    return 2 if is_sca_mode(buf, off) else 6


def check_sca(sca):
    """Validate a 6-byte SCA (last byte 0x03, not broadcast); return it as bytes or None."""
    if sca is None:
        return None
    b = bytes(sca)
    if len(b) != 6 or b[5] != _SCA_TAG or b == BROADCAST:
        raise ValueError("SCA must be 6 bytes ending in 03 (not broadcast)")
    return b
