"""Data link, slave side (docs/datalink.md): frame codec, disciplines and timing, repetition,
network management and the poll-driven link core `mac.link.Mac`.

Import the submodules you need; importing the package does no work.
"""
