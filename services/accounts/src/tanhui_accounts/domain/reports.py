"""A carbon report: each activity line times its factor, summed into scope 1, scope 2 and total."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tanhui_shared.methodology import EmissionFactor

from .units import IncompatibleUnit, convert

TCO2E_PLACES = Decimal("0.0001")  # reports show tonnes to 4 decimals (0.1 kg)


class ActivityError(ValueError):
    """A line that cannot be computed: which line, which of its fields, and why."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a report period: 2025, 2025-Q1 or 2025-03 (the API's pattern)."""
    year = int(period[:4])
    if len(period) == 4:
        return date(year, 1, 1), date(year, 12, 31)
    if period[5] == "Q":
        first_month = 3 * (int(period[6]) - 1) + 1
        last_month = first_month + 2
    else:
        first_month = last_month = int(period[5:7])
    return (date(year, first_month, 1),
            date(year, last_month, calendar.monthrange(year, last_month)[1]))


@dataclass(frozen=True)
class Activity:
    factor_code: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class ReportLine:
    factor: EmissionFactor
    quantity: Decimal
    unit: str
    quantity_in_factor_unit: Decimal
    tco2e: Decimal

    @property
    def derivation(self) -> str:
        converted = (f" = {self.quantity_in_factor_unit.normalize():f} {self.factor.activity_unit}"
                     if self.unit != self.factor.activity_unit else "")
        return (f"{self.quantity.normalize():f} {self.unit}{converted} x "
                f"{self.factor.value.normalize():f} {self.factor.unit} = {self.tco2e:f} tCO2e "
                f"({self.factor.code} v{self.factor.version}, {self.factor.source})")


@dataclass(frozen=True)
class ReportFigures:
    lines: tuple[ReportLine, ...]
    scope1_tco2e: Decimal
    scope2_tco2e: Decimal

    @property
    def total_tco2e(self) -> Decimal:
        return self.scope1_tco2e + self.scope2_tco2e


def compute_report(activities: list[Activity], factors: dict[str, EmissionFactor]) -> ReportFigures:
    """`factors`: the version of each code valid for the report's period. Raises ActivityError
    for a code it lacks, or a unit the factor cannot take."""
    lines = []
    for index, activity in enumerate(activities):
        factor = factors.get(activity.factor_code)
        if factor is None:
            raise ActivityError(index, "factor_code", f"unknown factor code {activity.factor_code!r}")
        try:
            amount = convert(activity.quantity, activity.unit, factor.activity_unit)
        except IncompatibleUnit as exc:
            raise ActivityError(index, "unit", f"{exc} (factor {factor.code} takes "
                                f"{factor.activity_unit})") from None
        tco2e = (amount * factor.value).quantize(TCO2E_PLACES, ROUND_HALF_UP)
        lines.append(ReportLine(factor, activity.quantity, activity.unit, amount, tco2e))
    by_scope = {1: Decimal(0), 2: Decimal(0)}
    for line in lines:
        by_scope[line.factor.scope] += line.tco2e
    return ReportFigures(tuple(lines), by_scope[1], by_scope[2])
