"""A large event's emission estimate: activity data x factors, by category, in tCO2e (pure)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from .emission_factors import BY_CODE, EmissionFactor

KG_PER_TONNE = Decimal(1000)
TRAVEL_FACTORS = {"air": "TRAVEL-AIR", "rail": "TRAVEL-RAIL", "car": "TRAVEL-CAR",
                  "bus": "TRAVEL-BUS", "metro": "TRAVEL-METRO"}
ZERO = Decimal(0)


@dataclass(frozen=True)
class EventActivity:
    electricity_kwh: Decimal = ZERO
    grid_region: str = "national"  # national | sichuan
    grid_year: int = 2023
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
    quantity: Decimal
    factor: EmissionFactor
    tco2e: Decimal


@dataclass(frozen=True)
class Estimate:
    lines: tuple[EstimateLine, ...]
    by_category: dict[str, Decimal] = field(default_factory=dict)
    total_tco2e: Decimal = ZERO

    def credits_to_neutralise(self) -> int:
        """Whole credits covering the total: the estimate rounded up."""
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
                                  "version": line.factor.version}}
                      for line in self.lines],
        }


def estimate(activity: EventActivity, factors: Mapping[str, EmissionFactor] = BY_CODE) -> Estimate:
    """Every non-zero activity becomes one line with the factor it used."""
    wanted: list[tuple[str, Decimal, str]] = [
        ("electricity", activity.electricity_kwh,
         f"GRID-{activity.grid_region.upper()}-{activity.grid_year}"),
        ("diesel", activity.diesel_t, "FUEL-DIESEL"),
        ("gasoline", activity.gasoline_t, "FUEL-GASOLINE"),
        ("natural gas", activity.natural_gas_nm3, "FUEL-NATURAL-GAS"),
        *((f"travel by {mode}", km, TRAVEL_FACTORS[mode]) for mode, km in activity.travel),
        ("accommodation", activity.accommodation_nights, "HOTEL-NIGHT-CN"),
        ("meals", activity.meals, "MEAL-AVERAGE"),
        ("printed materials", activity.printed_materials_kg, "PAPER-PRINTED"),
        ("built materials", activity.built_materials_kg, "BUILT-MATERIALS"),
        ("waste", activity.waste_kg, "WASTE-LANDFILL"),
    ]
    lines = []
    for name, quantity, code in wanted:
        if quantity < 0:
            raise ValueError(f"{name}: activity data cannot be negative")
        if quantity == 0:
            continue
        if code not in factors:
            raise KeyError(f"no emission factor {code} for {name}")
        factor = factors[code]
        lines.append(EstimateLine(name, quantity, factor, quantity * factor.value / KG_PER_TONNE))
    by_category: dict[str, Decimal] = {}
    for line in lines:
        by_category[line.factor.category] = by_category.get(line.factor.category, ZERO) + line.tco2e
    return Estimate(tuple(lines), by_category, sum((line.tco2e for line in lines), ZERO))
