"""The cyclic garbage collector held off while a transit operator's feed is decoded and written.

A 10,000-trip feed allocates hundreds of thousands of objects (models, dicts, datetimes, rows);
each 700 allocations start a young-generation pass and every few of those an older one, which
walked the feed's live objects again and again: 0.4-0.5 s of a 1.3-1.5 s feed in a profile
(and 0.1-0.2 s of record_trips' own 1 s, called in process without the API's pause).
Reference counting still frees everything acyclic at once; the cycles left (few) wait for the
next pass after the feed. The collector is per process, so overlapping feeds share one count.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pausers = 0
_pause_state: list[bool] = []  # whether the collector was on when the first pauser came


def pause() -> None:
    global _pausers
    with _lock:
        if _pausers == 0:
            _pause_state.append(gc.isenabled())
            gc.disable()
        _pausers += 1


def resume() -> None:
    global _pausers
    with _lock:
        _pausers -= 1
        if _pausers == 0 and _pause_state.pop():
            gc.enable()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The same pause around a block: record_trips takes it whoever calls (the API's feed holds
    one already; a CLI, a test or a bench does not)."""
    pause()
    try:
        yield
    finally:
        resume()
