"""Emission factors for large-event estimates, as data. Every value says where it comes from.

Scope and categories (energy, travel, accommodation, catering, materials, waste) follow the MEE's
大型活动碳中和实施指南（试行） (Guide to carbon neutrality of large events, trial, 2019, MEE
announcement 2019 No.19). That guide fixes the accounting boundary but publishes no numeric
defaults, so the numbers come from:
- grid electricity and fuels: DESIGN.md §8 (MEE & NBS grid factor notices; China's enterprise GHG
  accounting guidelines, fuels stored as their components so the value is reproducible);
- travel, hotel nights, paper, built materials, waste: the UK government's GHG conversion factors
  (DESNZ, formerly DEFRA), 2024 condensed set, which China's event-accounting practice commonly
  borrows where no national default exists. These values are quoted to 3-4 significant figures
  and flagged "approx.": re-check them against the published spreadsheet before formal use;
- meals: no official default exists; a documented platform assumption.
All of it is configurable: `estimate()` takes the factor table as an argument.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tanhui_shared.methodology import FUEL_SOURCE, FUELS, GRID, FuelComponents


@dataclass(frozen=True)
class EmissionFactor:
    code: str
    category: str  # energy | travel | accommodation | catering | materials | waste
    value: Decimal  # kgCO2e per unit
    unit: str  # what one unit of activity is
    source: str
    version: str
    components: FuelComponents | None = None


def _fuel(code: str, key: str, per_unit: Decimal, unit: str) -> EmissionFactor:
    """The shared methodology's fuel (tCO2 per its unit) as kgCO2 per `unit` (`per_unit` of
    the methodology's units make one of ours)."""
    fuel = FUELS[key]
    return EmissionFactor(code, "energy", fuel.components.tco2_per_unit() * 1000 * per_unit,
                          f"kgCO2/{unit}", f"{FUEL_SOURCE}; DESIGN.md §8", "2015", fuel.components)


def _grid(code: str, region: str, year: int) -> EmissionFactor:
    grid = GRID[(region, year)]
    return EmissionFactor(code, "energy", grid.kg_co2_per_kwh, "kgCO2/kWh",
                          f"{grid.source}; DESIGN.md §8", f"{year} factors")


_DESNZ = ("UK DESNZ (ex-DEFRA) greenhouse gas conversion factors for company reporting, 2024 "
          "condensed set: {row} (approx.; re-check against the published table)")

FACTORS: tuple[EmissionFactor, ...] = (
    _grid("GRID-NATIONAL-2022", "national", 2022),
    _grid("GRID-NATIONAL-2023", "national", 2023),
    _grid("GRID-SICHUAN-2022", "sichuan", 2022),
    _grid("GRID-SICHUAN-2023", "sichuan", 2023),
    _fuel("FUEL-DIESEL", "diesel", Decimal(1), "t"),
    _fuel("FUEL-GASOLINE", "gasoline", Decimal(1), "t"),
    _fuel("FUEL-NATURAL-GAS", "natural_gas", Decimal(1) / 10_000, "Nm3"),
    EmissionFactor("TRAVEL-AIR", "travel", Decimal("0.255"), "kgCO2e/person-km",
                   _DESNZ.format(row="business travel - air, domestic, average passenger, with "
                                     "radiative forcing"), "DESNZ 2024"),
    EmissionFactor("TRAVEL-RAIL", "travel", Decimal("0.0355"), "kgCO2e/person-km",
                   _DESNZ.format(row="business travel - land, national rail, per passenger-km"),
                   "DESNZ 2024"),
    EmissionFactor("TRAVEL-CAR", "travel", Decimal("0.166"), "kgCO2e/person-km",
                   _DESNZ.format(row="average car, unknown fuel, per vehicle-km; applied per "
                                     "person-km, i.e. one occupant per car (conservative)"),
                   "DESNZ 2024"),
    EmissionFactor("TRAVEL-BUS", "travel", Decimal("0.102"), "kgCO2e/person-km",
                   _DESNZ.format(row="business travel - land, average local bus, per "
                                     "passenger-km"), "DESNZ 2024"),
    EmissionFactor("TRAVEL-METRO", "travel", Decimal("0.0286"), "kgCO2e/person-km",
                   _DESNZ.format(row="business travel - land, light rail and tram, per "
                                     "passenger-km"), "DESNZ 2024"),
    EmissionFactor("HOTEL-NIGHT-CN", "accommodation", Decimal("53.5"), "kgCO2e/room-night",
                   _DESNZ.format(row="hotel stay, China, per room per night"), "DESNZ 2024"),
    EmissionFactor("MEAL-AVERAGE", "catering", Decimal("2.5"), "kgCO2e/meal",
                   "tanhui platform assumption: no official per-meal default exists (neither the "
                   "2019 MEE guide, DESNZ nor IPCC give one); 2.5 kgCO2e for a mixed meal with "
                   "meat lies within published life-cycle ranges (e.g. Poore & Nemecek 2018, "
                   "Science 360:987). Replace with the caterer's data when available.",
                   "platform default v1"),
    EmissionFactor("PAPER-PRINTED", "materials", Decimal("0.919"), "kgCO2e/kg",
                   _DESNZ.format(row="material use - paper and board: paper, primary material "
                                     "production"), "DESNZ 2024"),
    EmissionFactor("BUILT-MATERIALS", "materials", Decimal("0.313"), "kgCO2e/kg",
                   _DESNZ.format(row="material use - wood, primary material production, used "
                                     "as the default for stage and booth builds"), "DESNZ 2024"),
    EmissionFactor("WASTE-LANDFILL", "waste", Decimal("0.467"), "kgCO2e/kg",
                   _DESNZ.format(row="waste disposal - commercial and industrial waste, "
                                     "landfill"), "DESNZ 2024"),
)

BY_CODE = {factor.code: factor for factor in FACTORS}
