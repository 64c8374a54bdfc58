"""Access rights: the one place that decides who may read or write an object (docs/smitp.md §3).

key: None (plain request), "read" or "write" (the key of a verified authenticated request).
The write key grants everything the read key does.
"""

from datamodel.registers import CLEAR_R, KEY_R, KEY_W, MM


def readable_by(row, key, protected):
    """The one access rule for reading (docs/smitp.md §3). key: None, "read" or "write"."""
    acc = row[4]
    if acc & CLEAR_R and not (protected and acc & MM):
        return True
    return key is not None and bool(acc & (CLEAR_R | KEY_R))


def writable_by(row, key):
    """The one access rule for writing: the write key, and a row that allows writes."""
    return key == "write" and bool(row[4] & KEY_W)
