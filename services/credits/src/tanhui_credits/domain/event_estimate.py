"""A large event's emissions: activity data x factors, by category, in tCO2e (pure).

Categories and boundary: the MEE's 大型活动碳中和实施指南（试行） (MEE announcement 2019 No. 19):
energy (purchased electricity and heat, fuels burnt on site), travel, accommodation, catering,
materials and waste. The same computation serves the plan made before the event and the final
figure from the actual data filed after it (true-up); each line keeps the factor version it used,
the one the shared library holds valid for the event's dates.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

from tanhui_shared.errors import Invalid
from tanhui_shared.methodology import FACTORS, EmissionFactor, version_for

NM3_PER_UNIT = Decimal(10_000)  # the natural-gas factor is per 10^4 Nm3
TRAVEL_MODES = ("air", "rail", "car", "bus", "metro")
TRAVEL_FACTORS = {"air": "travel.air.domestic", "rail": "travel.rail", "car": "travel.car",
                  "bus": "travel.bus", "metro": "travel.metro"}
ZERO = Decimal(0)


@dataclass(frozen=True)
class EventActivity:
    """Activity data as the organizer gives it (the plan, or the actuals after the event)."""
    electricity_kwh: Decimal = ZERO
    grid_region: str = "national"  # national | sichuan
    grid_year: int = 2023
    heat_gj: Decimal = ZERO  # purchased heat (steam, hot water)
    diesel_t: Decimal = ZERO
    gasoline_t: Decimal = ZERO
    natural_gas_nm3: Decimal = ZERO
    travel: tuple[tuple[str, Decimal], ...] = ()  # (mode, person-km)
    accommodation_nights: Decimal = ZERO
    meals: Decimal = ZERO
    printed_materials_kg: Decimal = ZERO
    built_materials_kg: Decimal = ZERO
    waste_kg: Decimal = ZERO


@dataclass(frozen=True)
class EstimateLine:
    activity: str
    quantity: Decimal  # in the factor's activity unit
    factor: EmissionFactor
    tco2e: Decimal


@dataclass(frozen=True)
class Estimate:
    lines: tuple[EstimateLine, ...]
    by_category: dict[str, Decimal] = field(default_factory=dict)
    total_tco2e: Decimal = ZERO

    def credits_to_neutralise(self) -> int:
        """Whole credits covering the total: the total rounded up."""
        return int(self.total_tco2e.to_integral_value(rounding=ROUND_CEILING))

    def as_record(self) -> dict[str, Any]:
        """The estimate as stored with the event and shown to anyone: every factor it used."""
        return {
            "total_tco2e": str(self.total_tco2e),
            "by_category": {k: str(v) for k, v in self.by_category.items()},
            "credits_to_neutralise": self.credits_to_neutralise(),
            "lines": [{"activity": line.activity, "quantity": str(line.quantity),
                       "tco2e": str(line.tco2e),
                       "factor": {"code": line.factor.code, "value": str(line.factor.value),
                                  "unit": line.factor.unit, "source": line.factor.source,
                                  "version": line.factor.version,
                                  "valid_from": line.factor.valid_from.isoformat(),
                                  "valid_to": (line.factor.valid_to.isoformat()
                                               if line.factor.valid_to else None)}}
                      for line in self.lines],
        }


def _wanted(activity: EventActivity) -> list[tuple[str, Decimal, str, str]]:
    """(line name, quantity in the factor's unit, factor code, the input field it came from)."""
    return [
        ("electricity", activity.electricity_kwh,
         f"grid.{activity.grid_region}.{activity.grid_year}", "grid_year"),
        ("purchased heat", activity.heat_gj, "heat.purchased", "heat_gj"),
        ("diesel", activity.diesel_t, "fuel.diesel", "fuels.diesel_t"),
        ("gasoline", activity.gasoline_t, "fuel.gasoline", "fuels.gasoline_t"),
        ("natural gas", activity.natural_gas_nm3 / NM3_PER_UNIT, "fuel.natural_gas",
         "fuels.natural_gas_nm3"),
        *((f"travel by {mode}", km, TRAVEL_FACTORS[mode], f"travel[{i}].mode")
          for i, (mode, km) in enumerate(activity.travel)),
        ("accommodation", activity.accommodation_nights, "hotel.night.cn",
         "accommodation_nights"),
        ("meals", activity.meals, "meal.average", "meals"),
        ("printed materials", activity.printed_materials_kg, "material.paper",
         "printed_materials_kg"),
        ("built materials", activity.built_materials_kg, "material.wood", "built_materials_kg"),
        ("waste", activity.waste_kg, "waste.landfill", "waste_kg"),
    ]


def estimate(activity: EventActivity, start: date, end: date,
             factors: Iterable[EmissionFactor] = FACTORS) -> Estimate:
    """Every non-zero activity becomes one line, priced with the version of its factor valid for
    the whole event (`start`..`end`). Raises Invalid naming the input field for negative data or
    a factor with no version valid for those dates."""
    versions = tuple(factors)
    lines = []
    for name, quantity, code, source_field in _wanted(activity):
        if quantity < 0:
            raise Invalid(f"{name}: activity data cannot be negative", field=source_field,
                          code="negative-activity-data")
        if quantity == 0:
            continue
        factor = version_for(versions, code, start, end, field=source_field)
        lines.append(EstimateLine(name, quantity, factor, quantity * factor.value))
    by_category: dict[str, Decimal] = {}
    for line in lines:
        by_category[line.factor.category] = by_category.get(line.factor.category, ZERO) + line.tco2e
    return Estimate(tuple(lines), by_category, sum((line.tco2e for line in lines), ZERO))
