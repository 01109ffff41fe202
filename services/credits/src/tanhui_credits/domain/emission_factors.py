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

C_TO_CO2 = Decimal(44) / Decimal(12)


@dataclass(frozen=True)
class FuelComponents:
    """kgCO2 per unit = NCV (GJ/unit) x carbon content (tC/TJ) x oxidation rate x 44/12."""

    ncv_gj_per_unit: Decimal
    carbon_content_tc_per_tj: Decimal
    oxidation_rate: Decimal

    def kg_co2_per_unit(self) -> Decimal:
        return self.ncv_gj_per_unit * self.carbon_content_tc_per_tj * self.oxidation_rate * C_TO_CO2


@dataclass(frozen=True)
class EmissionFactor:
    code: str
    category: str  # energy | travel | accommodation | catering | materials | waste
    value: Decimal  # kgCO2e per unit
    unit: str  # what one unit of activity is
    source: str
    version: str
    components: FuelComponents | None = None


def _fuel(code: str, components: FuelComponents, unit: str, derivation: str) -> EmissionFactor:
    return EmissionFactor(code, "energy", components.kg_co2_per_unit(), f"kgCO2/{unit}",
                          "China enterprise GHG accounting guidelines, industry default NCV, "
                          f"carbon content and oxidation rate ({derivation}); DESIGN.md §8",
                          "NDRC guidelines (2013-2015) defaults", components)


_GRID = ("Ministry of Ecology and Environment & National Bureau of Statistics notice on "
         "electricity CO2 emission factors ({year}: {notice}), {table}; DESIGN.md §8")
_DESNZ = ("UK DESNZ (ex-DEFRA) greenhouse gas conversion factors for company reporting, 2024 "
          "condensed set: {row} (approx.; re-check against the published table)")

FACTORS: tuple[EmissionFactor, ...] = (
    EmissionFactor("GRID-NATIONAL-2022", "energy", Decimal("0.5366"), "kgCO2/kWh",
                   _GRID.format(year=2022, notice="2024 No.33", table="national average"),
                   "2022 factors"),
    EmissionFactor("GRID-NATIONAL-2023", "energy", Decimal("0.5306"), "kgCO2/kWh",
                   _GRID.format(year=2023, notice="2025 publication", table="national average"),
                   "2023 factors"),
    EmissionFactor("GRID-SICHUAN-2022", "energy", Decimal("0.1404"), "kgCO2/kWh",
                   _GRID.format(year=2022, notice="2024 No.33", table="Sichuan provincial table"),
                   "2022 factors"),
    EmissionFactor("GRID-SICHUAN-2023", "energy", Decimal("0.1564"), "kgCO2/kWh",
                   _GRID.format(year=2023, notice="2025 publication",
                                table="Sichuan provincial table"), "2023 factors"),
    _fuel("FUEL-DIESEL", FuelComponents(Decimal("42.652"), Decimal("20.2"), Decimal("0.98")),
          "t", "42.652 GJ/t x 20.2 tC/TJ x 0.98 x 44/12 = 3.0959 tCO2/t"),
    _fuel("FUEL-GASOLINE", FuelComponents(Decimal("43.070"), Decimal("18.9"), Decimal("0.98")),
          "t", "43.070 GJ/t x 18.9 tC/TJ x 0.98 x 44/12 = 2.9251 tCO2/t"),
    _fuel("FUEL-NATURAL-GAS",
          FuelComponents(Decimal("0.038931"), Decimal("15.3"), Decimal("0.99")), "Nm3",
          "389.31 GJ/10^4 Nm3 x 15.3 tC/TJ x 0.99 x 44/12 = 21.62 tCO2/10^4 Nm3"),
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
