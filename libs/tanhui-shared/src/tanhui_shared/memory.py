"""glibc's allocator set for long-lived platform processes (issue 15: each within 150 MB).

Two of its defaults cost resident memory here:
- one arena per thread, up to 8 per core: an API runs sync routes on a 40-thread pool, and memory
  freed in one arena is not reused by another, so each thread's arena keeps its own high-water mark;
- the mmap threshold grows to the largest block freed so far (up to 32 MiB): after the first
  argon2 hash (19 MiB) or a large request body, such blocks come from an arena and stay resident
  once freed, where below a fixed threshold they are mmap'd and given back on free.
"""
from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

# mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENAS = 2
MMAP_THRESHOLD = 1024 * 1024  # blocks this large and larger go back to the system when freed


def tune_malloc() -> bool:
    """Apply the settings above; False where the C library is not glibc (musl, macOS)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    applied = mallopt(M_ARENA_MAX, ARENAS) == 1 and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    if not applied:
        log.warning("mallopt refused the allocator settings; running with glibc's defaults")
    return applied
