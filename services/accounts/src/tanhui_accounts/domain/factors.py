"""The emission-factor library's starting set (DESIGN.md §8), as data with source and version.

Fuel factors are kept as their components (net calorific value, carbon content per unit heat,
oxidation rate) so anyone can re-derive the published tCO2 per unit from the guideline's own
figures. Grid factors are published directly per kWh.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CO2_PER_C = Decimal(44) / Decimal(12)  # molar mass ratio of CO2 to C


@dataclass(frozen=True)
class FuelComponents:
    ncv_gj_per_unit: Decimal  # GJ per activity unit (t, or 10^4 Nm3)
    carbon_tc_per_tj: Decimal
    oxidation_rate: Decimal

    def tco2_per_unit(self) -> Decimal:
        # GJ/unit x tC/TJ / 1000 (GJ->TJ) x oxidation x 44/12 = tCO2 per activity unit
        return self.ncv_gj_per_unit * self.carbon_tc_per_tj / 1000 * self.oxidation_rate * CO2_PER_C


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


GUIDELINE = ("China enterprise GHG accounting and reporting guidelines, industry default "
             "parameters (NDRC, 2013-2015 series)")


def _fuel(code: str, name: str, unit: str, ncv: str, cc: str, of: str) -> EmissionFactor:
    parts = FuelComponents(Decimal(ncv), Decimal(cc), Decimal(of))
    return EmissionFactor(code, name, 1, unit, parts.tco2_per_unit(), GUIDELINE, "2015",
                          date(2015, 1, 1), None, parts)


def _grid(code: str, name: str, kg_per_kwh: str, year: int, notice: str) -> EmissionFactor:
    return EmissionFactor(code, name, 2, "kWh", Decimal(kg_per_kwh) / 1000, notice, str(year),
                          date(year, 1, 1), None)


NOTICE_2022 = "MEE & NBS notice on 2022 electricity CO2 emission factors (2024 No. 33)"
NOTICE_2023 = "MEE & NBS 2023 electricity CO2 emission factors (published 2025)"

STARTING_FACTORS: tuple[EmissionFactor, ...] = (
    _fuel("fuel.raw_coal", "Raw coal", "t", "20.908", "26.37", "0.94"),
    _fuel("fuel.gasoline", "Gasoline", "t", "43.070", "18.9", "0.98"),
    _fuel("fuel.diesel", "Diesel", "t", "42.652", "20.2", "0.98"),
    _fuel("fuel.natural_gas", "Natural gas", "10^4 Nm3", "389.31", "15.3", "0.99"),
    _grid("grid.national.2022", "National grid average electricity 2022", "0.5366", 2022, NOTICE_2022),
    _grid("grid.national.2023", "National grid average electricity 2023", "0.5306", 2023, NOTICE_2023),
    _grid("grid.sichuan.2022", "Sichuan provincial grid electricity 2022", "0.1404", 2022, NOTICE_2022),
    _grid("grid.sichuan.2023", "Sichuan provincial grid electricity 2023", "0.1564", 2023, NOTICE_2023),
)
