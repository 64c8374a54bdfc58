"""Runs first at reset on a board: reserve the emergency buffer ISRs need to report errors."""

import micropython

micropython.alloc_emergency_exception_buf(128)
