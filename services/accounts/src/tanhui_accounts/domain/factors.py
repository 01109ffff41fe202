"""The emission-factor library's starting set (DESIGN.md §8), as data with source and version.

The figures themselves live in tanhui_shared.methodology (shared with credits' event estimates);
fuels are kept as their components so anyone can re-derive the published tCO2 per unit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tanhui_shared.methodology import FUEL_SOURCE, FUEL_VERSION, FUELS, GRID, FuelComponents


@dataclass(frozen=True)
class EmissionFactor:
    code: str
    name: str
    scope: int  # 1: direct combustion; 2: purchased electricity
    activity_unit: str  # what the quantity is measured in
    value: Decimal  # tCO2 per activity unit
    source: str
    version: str
    valid_from: date
    valid_to: date | None = None
    components: FuelComponents | None = None

    @property
    def unit(self) -> str:
        return f"tCO2/{self.activity_unit}"


def _fuel(key: str) -> EmissionFactor:
    fuel = FUELS[key]
    return EmissionFactor(f"fuel.{key}", fuel.name, 1, fuel.unit, fuel.components.tco2_per_unit(),
                          FUEL_SOURCE, FUEL_VERSION, date(2015, 1, 1), None, fuel.components)


def _grid(region: str, year: int) -> EmissionFactor:
    grid = GRID[(region, year)]
    name = ("National grid average" if region == "national" else "Sichuan provincial grid")
    return EmissionFactor(f"grid.{region}.{year}", f"{name} electricity {year}", 2, "kWh",
                          grid.kg_co2_per_kwh / 1000, grid.source, str(year), date(year, 1, 1))


STARTING_FACTORS: tuple[EmissionFactor, ...] = (
    *(_fuel(key) for key in ("raw_coal", "gasoline", "diesel", "natural_gas")),
    *(_grid(region, year) for region in ("national", "sichuan") for year in (2022, 2023)),
)
