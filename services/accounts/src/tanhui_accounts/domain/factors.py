"""Which of the shared factor library's factors enterprise reports take, and the starting set.

The type, the versions and the rule that picks a version for a period all live in
tanhui_shared.methodology (one library for reports, trips and events). A carbon report is a
scope 1 and scope 2 inventory (the Chinese enterprise GHG accounting guidelines' boundary:
fuel combustion, purchased electricity and heat), so it takes those scopes only.
"""
from __future__ import annotations

from tanhui_shared.errors import Conflict
from tanhui_shared.methodology import FACTORS, EmissionFactor

REPORT_SCOPES = (1, 2)

# The versions the factor table starts with (migrations 0002 and 0006 seed them).
STARTING_FACTORS: tuple[EmissionFactor, ...] = tuple(
    f for f in FACTORS if f.scope in REPORT_SCOPES)


def replacement(live: EmissionFactor, new: EmissionFactor) -> str:
    """What publishing `new` does to a live version of the same code it overlaps:
    - "close": `live` started earlier; it stays valid up to the day before `new` starts (earlier
      periods keep their version; the row's values never change);
    - "supersede": `new` covers the rest of `live`'s validity (a correction).
    A new version that would cut a live one in two is refused: publish them in date order."""
    if live.valid_from < new.valid_from and (
            new.valid_to is None or (live.valid_to is not None and live.valid_to <= new.valid_to)):
        return "close"
    if live.valid_from >= new.valid_from and (
            new.valid_to is None or (live.valid_to is not None and live.valid_to <= new.valid_to)):
        return "supersede"
    raise Conflict(f"{new.code} version {new.version} ({new.valid_from}..{new.valid_to or 'open'}) "
                   f"would cut version {live.version} ({live.valid_from}..{live.valid_to or 'open'})"
                   " in two; publish versions in date order", field="valid_to",
                   code="factor-version-overlap")
