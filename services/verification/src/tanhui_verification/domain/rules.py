"""Methodology rules for forestry carbon-sink projects (pure: no I/O).

Documented choices (all in one place so a reviewer can check them against the methodology):

- Methodology: 温室气体自愿减排项目方法学 造林碳汇 CCER-14-001-V01, released by the Ministry of
  Ecology and Environment's notice of 2023-10-24 (环办气候函〔2023〕343号, the first four CCER
  methodologies). One project kind, `afforestation`, whose vegetation is trees, bamboo or shrubs
  (the methodology covers all three as one methodology; the platform's former separate `bamboo`
  kind is now `afforestation` with vegetation `bamboo`).
  NOT modelled: 红树林营造 CCER-14-002-V01 (mangrove creation), released by the same notice. Its
  land is coastal tidal flat, which the platform's city (Nanchong, inland Sichuan) has none of,
  and its applicability conditions were not checked against the published text here.
  `forest_management` has no methodology among the 2023 CCER ones: projects filed under it before
  are kept as they were (their history and issued credits stay truthful) but no new one is filed.
- Crediting period, in whole years: 20 to 40 (CCER-14-001-V01's crediting period for the
  project, and 温室气体自愿减排项目设计与实施指南 for forestry carbon-sink projects: at least 20,
  at most 40 years; the guide's issuing date and version were not re-checked here). It was
  20-60 before (and 20-30 for the former `bamboo` kind).
- Land eligibility at filing (CCER-14-001-V01, applicability conditions):
    the land was non-forest for at least 3 years before the start (we take the crediting start
    as the project start: the platform records no separate start date), so non_forest_since is
    at most crediting_start - 3 years;
    each parcel is at least 400 m2 (smallest_parcel_m2 >= 400, and no larger than the project);
    the land is not wetland, and the site is not cleared by burning (炼山). These two are in the
    earlier CCER 碳汇造林 methodology AR-CM-001-V01 as transcribed publicly, and recalled as kept
    in CCER-14-001-V01; the 2023 text was not re-read for them here.
- Area: 0 < area_ha <= 100,000 ha (a county-scale project; anything larger is a typing error).
- Crediting start: 1990-01-01 .. 2100-12-31. 1990 is the Kyoto base year (no forest sink is
  credited before it); a start after 2100 is a typing error. The bound also keeps the crediting
  end (start + at most 100 years) far inside the calendar (year 9999), so no date overflows.
- Non-permanence buffer, decided at approval: 10 % <= buffer_pct <= 30 %, two decimals.
- tCO2e: Decimal, 4 decimal places, each figure 0 .. 10,000,000 t per report.
- Monitoring periods are inclusive date ranges [period_start, period_end]; the crediting window
  is the half-open [crediting_start, crediting_start + crediting_years). The vintage is the year
  of period_end. Periods of one project must not overlap (rejected reports do not count).
- A monitoring period whose net (project sink - baseline sink - leakage) is negative is a
  reversal: recorded, verified like any report, issuing nothing; once verified, the registry
  compensates it like a loss event (VCS Standard v4.5, section 3.2.26: a reversal is a
  monitoring period whose net GHG benefit is negative). A net of exactly zero is no report.
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
    FOREST_MANAGEMENT = "forest_management"  # legacy rows only: no current CCER methodology


class FilingKind(StrEnum):
    """The kinds a new project may be filed under."""

    AFFORESTATION = "afforestation"


class Vegetation(StrEnum):
    """CCER-14-001-V01's vegetation types: one methodology, three kinds of stand."""

    TREE = "tree"
    BAMBOO = "bamboo"
    SHRUB = "shrub"


METHODOLOGY = "CCER-14-001-V01"
CREDITING_YEARS: dict[ProjectKind, tuple[int, int]] = {
    ProjectKind.AFFORESTATION: (20, 40),  # CCER-14-001-V01; design guide (MEE 2023)
}
NON_FOREST_YEARS = 3  # CCER-14-001-V01: non-forest land for at least 3 years before the start
MIN_PARCEL_M2 = Decimal(400)  # CCER-14-001-V01: each parcel at least 400 m2
M2_PER_HA = Decimal(10000)

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
    if ProjectKind(kind) not in CREDITING_YEARS:
        raise RuleViolation("kind", f"no current CCER methodology credits {kind} projects")
    low, high = CREDITING_YEARS[ProjectKind(kind)]
    if not low <= years <= high:
        raise RuleViolation("crediting_years",
                            f"a {kind} project's crediting period is {low} to {high} years, not {years}")


@dataclass(frozen=True)
class LandEligibility:
    """What the filing says of the land, against CCER-14-001-V01's applicability conditions."""

    non_forest_since: date
    smallest_parcel_m2: Decimal
    land_is_wetland: bool
    burning_site_preparation: bool


def check_land_eligibility(land: LandEligibility, crediting_start: date, area_ha: Decimal) -> None:
    """Refuse land the methodology does not admit; each failure names its field."""
    latest = add_years(crediting_start, -NON_FOREST_YEARS)
    if land.non_forest_since > latest:
        raise RuleViolation("non_forest_since",
                            f"the land must have been non-forest for at least {NON_FOREST_YEARS} "
                            f"years before the start {crediting_start}: non-forest since "
                            f"{latest} at the latest, not {land.non_forest_since}")
    if land.smallest_parcel_m2 < MIN_PARCEL_M2:
        raise RuleViolation("smallest_parcel_m2",
                            f"each parcel must be at least {MIN_PARCEL_M2} m2, not "
                            f"{land.smallest_parcel_m2.normalize():f}")
    if land.smallest_parcel_m2 > area_ha * M2_PER_HA:
        raise RuleViolation("smallest_parcel_m2",
                            "the smallest parcel cannot be larger than the whole project area")
    if land.land_is_wetland:
        raise RuleViolation("land_is_wetland", f"{METHODOLOGY} does not admit wetland")
    if land.burning_site_preparation:
        raise RuleViolation("burning_site_preparation",
                            f"{METHODOLOGY} does not admit clearing the site by burning (炼山)")


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
    """Net removals claimed: project sink - baseline sink - leakage. Negative: a reversal (the
    period lost carbon); zero: nothing to report."""
    claim = project_sink - baseline_sink - leakage
    if claim == 0:
        raise RuleViolation("project_sink_tco2e",
                            "the net (project sink - baseline sink - leakage) is zero: nothing to "
                            "credit and no reversal to record")
    return claim.quantize(TCO2E_QUANTUM)


def is_reversal(claim: Decimal) -> bool:
    return claim < 0


def check_verified_quantity(verified: Decimal | None, claim: Decimal) -> Decimal:
    """A removal is verified at a positive figure at most the claim (a verifier credits less,
    never more). A reversal is verified at a negative figure, possibly a larger loss than the
    developer reported, possibly a smaller one: the verifier's finding is what is compensated."""
    if verified is None:
        raise RuleViolation("verified_tco2e", "a verified decision needs verified_tco2e")
    if is_reversal(claim):
        if not -MAX_TCO2E <= verified < 0:
            raise RuleViolation("verified_tco2e",
                                f"this report is a reversal ({claim}): verified_tco2e is the "
                                "verified net, less than 0")
    elif not 0 < verified <= claim:
        raise RuleViolation("verified_tco2e",
                            f"verified_tco2e must be greater than 0 and at most the claim ({claim})")
    return verified.quantize(TCO2E_QUANTUM)
