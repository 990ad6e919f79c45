"""glibc malloc settings for the streaming stages' hot loops.

ETL, Filter and Score allocate and free about a megabyte per input batch (the lines
read, the lines written) and a few megabytes per upload chunk. With glibc's default
settings, free memory above 128 KiB at the top of the heap is returned to the kernel
(trimmed) and large blocks are mapped afresh, so the next batch page-faults the same
amount of memory back in, one fault per 4 KiB page: measured at 10-15 % of the
stages' CPU time. ``tune`` keeps freed memory for reuse (trim threshold 64 MiB) and
serves blocks below 32 MiB from the heap (mmap threshold), so each batch reuses the
pages of the one before. The process still grows only to its own high-water mark
(it keeps, rather than returns, memory it already used).

Only glibc has these settings (``mallopt``); elsewhere ``tune`` does nothing. The
settings are process-wide and applied once.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's upper limit on 64-bit


@functools.cache
def tune() -> bool:
    """Apply the settings (once per process); True when glibc accepted them."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    trimmed = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return trimmed and mapped
