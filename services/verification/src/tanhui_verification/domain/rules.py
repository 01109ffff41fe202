"""Methodology rules for forestry carbon-sink projects (pure: no I/O).

Documented choices (all in one place so a reviewer can check them against the methodology):

- Area: 0 < area_ha <= 100,000 ha (a county-scale project; anything larger is a typing error).
- Crediting period, in whole years, per kind:
    afforestation      20-60  (CCER afforestation methodology's range, as the issue states)
    forest_management  20-60  (same range as afforestation: the forest-management methodology
                               also credits long rotations)
    bamboo             20-30  (bamboo stands rotate fast; we keep the shorter range)
- Crediting start: 1990-01-01 .. 2100-12-31. 1990 is the Kyoto base year (no forest sink is
  credited before it); a start after 2100 is a typing error. The bound also keeps the crediting
  end (start + at most 100 years) far inside the calendar (year 9999), so no date overflows.
- Non-permanence buffer, decided at approval: 10 % <= buffer_pct <= 30 %, two decimals.
- tCO2e: Decimal, 4 decimal places, each figure 0 .. 10,000,000 t per report.
- Monitoring periods are inclusive date ranges [period_start, period_end]; the crediting window
  is the half-open [crediting_start, crediting_start + crediting_years). The vintage is the year
  of period_end. Periods of one project must not overlap (rejected reports do not count).
"""
from __future__ import annotations

from calendar import isleap
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from decimal import Decimal
from enum import StrEnum

from tanhui_shared.errors import Invalid


class ProjectKind(StrEnum):
    AFFORESTATION = "afforestation"
    FOREST_MANAGEMENT = "forest_management"
    BAMBOO = "bamboo"


CREDITING_YEARS: dict[ProjectKind, tuple[int, int]] = {
    ProjectKind.AFFORESTATION: (20, 60),
    ProjectKind.FOREST_MANAGEMENT: (20, 60),
    ProjectKind.BAMBOO: (20, 30),
}

EARLIEST_CREDITING_START = date(1990, 1, 1)
LATEST_CREDITING_START = date(2100, 12, 31)
MAX_AREA_HA = Decimal("100000")
BUFFER_PCT_RANGE = (Decimal("10"), Decimal("30"))
MAX_TCO2E = Decimal("10000000")
TCO2E_PLACES = 4
TCO2E_QUANTUM = Decimal(1).scaleb(-TCO2E_PLACES)  # 0.0001 t


class RuleViolation(Invalid):
    """Input that the methodology refuses: a 422 naming `field`."""

    code = "rule-violation"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field)


def check_crediting_start(start: date) -> None:
    if not EARLIEST_CREDITING_START <= start <= LATEST_CREDITING_START:
        raise RuleViolation("crediting_start",
                            f"the crediting period starts between {EARLIEST_CREDITING_START} and "
                            f"{LATEST_CREDITING_START}, not on {start}")


def check_crediting_years(kind: ProjectKind | str, years: int) -> None:
    low, high = CREDITING_YEARS[ProjectKind(kind)]
    if not low <= years <= high:
        raise RuleViolation("crediting_years",
                            f"a {kind} project's crediting period is {low} to {high} years, not {years}")


def check_buffer_pct(buffer_pct: Decimal | None) -> Decimal:
    low, high = BUFFER_PCT_RANGE
    if buffer_pct is None:
        raise RuleViolation("buffer_pct", "an approval must set the non-permanence buffer_pct")
    if not low <= buffer_pct <= high:
        raise RuleViolation("buffer_pct", f"buffer_pct must be between {low} and {high} %")
    return buffer_pct


def add_years(start: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year.
    OverflowError if that year is outside the calendar (1..9999)."""
    year = start.year + years
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError(f"year {year} is outside the calendar")
    leap_day_lost = (start.month, start.day) == (2, 29) and not isleap(year)
    return start.replace(year=year, day=28 if leap_day_lost else start.day)


def crediting_end(crediting_start: date, crediting_years: int) -> date:
    """The first day after the crediting period."""
    try:
        return add_years(crediting_start, crediting_years)
    except OverflowError:  # unreachable within the start bound; refused, never a 500, beyond it
        raise RuleViolation("crediting_start", "the crediting period would end after year "
                            f"{MAXYEAR}") from None


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def overlaps(self, other: "Period") -> bool:
        return self.start <= other.end and other.start <= self.end


def check_period(period: Period, crediting_start: date, crediting_years: int) -> None:
    if period.end <= period.start:
        raise RuleViolation("period_end", "period_end must be after period_start")
    end = crediting_end(crediting_start, crediting_years)
    if period.start < crediting_start:
        raise RuleViolation("period_start",
                            f"the period starts before the crediting period ({crediting_start})")
    if period.end >= end:
        raise RuleViolation("period_end",
                            f"the period ends after the crediting period (last day {end - timedelta(days=1)})")


def first_overlap(period: Period, others: list[Period]) -> Period | None:
    return next((other for other in others if period.overlaps(other)), None)


def claim_tco2e(project_sink: Decimal, baseline_sink: Decimal, leakage: Decimal) -> Decimal:
    """Net removals claimed: project sink - baseline sink - leakage; must be positive."""
    claim = project_sink - baseline_sink - leakage
    if claim <= 0:
        raise RuleViolation("project_sink_tco2e",
                            f"the claim (project sink - baseline sink - leakage = {claim}) must be "
                            "greater than zero")
    return claim.quantize(TCO2E_QUANTUM)


def check_verified_quantity(verified: Decimal | None, claim: Decimal) -> Decimal:
    if verified is None:
        raise RuleViolation("verified_tco2e", "a verified decision needs verified_tco2e")
    if not 0 < verified <= claim:
        raise RuleViolation("verified_tco2e",
                            f"verified_tco2e must be greater than 0 and at most the claim ({claim})")
    return verified.quantize(TCO2E_QUANTUM)
