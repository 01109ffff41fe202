"""Crash points for fault tests: a real `os._exit` at a named place, armed only by env var.

`TANHUI_CRASH_AT=relay.after_publish:3` makes the process die abruptly (no cleanup, no flush,
like kill -9) the 3rd time it passes that point. Unset, a crash point costs one dict lookup.
"""
from __future__ import annotations

import os
import sys

_armed: dict[str, int] = {}
for _spec in filter(None, os.environ.get("TANHUI_CRASH_AT", "").split(",")):
    _name, _, _count = _spec.partition(":")
    _armed[_name] = int(_count or 1)


def crash_point(name: str) -> None:
    if name not in _armed:
        return
    _armed[name] -= 1
    if _armed[name] <= 0:
        sys.stderr.write(f"crash point {name!r} reached: exiting abruptly\n")
        sys.stderr.flush()
        os._exit(137)
