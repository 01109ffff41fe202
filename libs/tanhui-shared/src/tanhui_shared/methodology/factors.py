"""The one emission-factor type and the rule that picks a factor's version for a date or period.

Every service uses it: enterprise reports (accounts), large-event estimates (credits) and trips.
One unit convention: `value` is tonnes CO2e per activity unit (tonnes, because reports, events
and credits are all counted in tonnes; fuels and grid electricity are CO2 only, which their
published sources give, and a tonne of CO2 is a tonne of CO2e).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..errors import Invalid
from .components import FuelComponents

CATEGORIES = ("energy", "travel", "accommodation", "catering", "materials", "waste")


@dataclass(frozen=True)
class EmissionFactor:
    code: str  # one scheme everywhere: fuel.diesel, grid.sichuan.2023, heat.purchased, travel.bus
    name: str
    category: str  # the MEE 2019 large-event guide's categories (CATEGORIES)
    scope: int  # 1 direct combustion; 2 purchased electricity and heat; 3 other indirect
    activity_unit: str  # what one unit of activity is (t, kWh, GJ, person-km, ...)
    value: Decimal  # tCO2e per activity unit
    source: str  # the publication, its table and row
    version: str
    valid_from: date
    valid_to: date | None = None  # the last day it is valid (inclusive); None: until replaced
    components: FuelComponents | None = None  # fuels: the derivation's published inputs

    @property
    def unit(self) -> str:
        return f"tCO2e/{self.activity_unit}"

    def covers(self, start: date, end: date) -> bool:
        """Valid on every day from `start` to `end` (inclusive)."""
        return self.valid_from <= start and (self.valid_to is None or self.valid_to >= end)

    def valid_on(self, day: date) -> bool:
        return self.covers(day, day)


def version_for(versions: Iterable[EmissionFactor], code: str, start: date, end: date | None = None,
                *, field: str = "factor_code") -> EmissionFactor:
    """The version of `code` valid for the whole of `start`..`end` (one day if no end).

    Versions of one code never overlap (a correction replaces the one it corrects), so at most
    one fits; a period that straddles two versions is refused rather than silently priced with
    either, and so is a period no version covers (e.g. a 2023 report and a factor valid from
    2025). Raises Invalid naming `field`.
    """
    end = end or start
    known = [v for v in versions if v.code == code]
    if not known:
        raise Invalid(f"unknown emission factor {code!r}", field=field, code="unknown-factor")
    fitting = [v for v in known if v.covers(start, end)]
    if not fitting:
        spans = ", ".join(f"v{v.version} {v.valid_from}..{v.valid_to or 'open'}"
                          for v in sorted(known, key=lambda v: v.valid_from))
        period = f"{start}" if start == end else f"{start}..{end}"
        raise Invalid(f"no version of {code} is valid for {period} (published: {spans})",
                      field=field, code="factor-not-valid-for-period")
    return max(fitting, key=lambda v: v.valid_from)
