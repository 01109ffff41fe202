"""The published inputs the factor library derives from (docs/architecture.md §8): fuels as their
components, and grid electricity factors. One copy, so the enterprise reports, the trips and the
large-event estimates can never disagree about diesel or the Sichuan grid."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

CO2_PER_C = Decimal(44) / Decimal(12)  # molar mass ratio of CO2 to C

FUEL_SOURCE = ("China enterprise GHG accounting and reporting guidelines, industry default "
               "parameters (NDRC, 2013-2015 series)")
FUEL_VERSION = "2015"


@dataclass(frozen=True)
class FuelComponents:
    ncv_gj_per_unit: Decimal  # GJ per activity unit (t, or 10^4 Nm3)
    carbon_tc_per_tj: Decimal
    oxidation_rate: Decimal

    def tco2_per_unit(self) -> Decimal:
        # GJ/unit x tC/TJ / 1000 (GJ->TJ) x oxidation x 44/12 = tCO2 per activity unit
        return self.ncv_gj_per_unit * self.carbon_tc_per_tj / 1000 * self.oxidation_rate * CO2_PER_C


@dataclass(frozen=True)
class Fuel:
    name: str
    unit: str
    components: FuelComponents


def _fuel(name: str, unit: str, ncv: str, cc: str, of: str) -> Fuel:
    return Fuel(name, unit, FuelComponents(Decimal(ncv), Decimal(cc), Decimal(of)))


FUELS: dict[str, Fuel] = {
    "raw_coal": _fuel("Raw coal", "t", "20.908", "26.37", "0.94"),
    "gasoline": _fuel("Gasoline", "t", "43.070", "18.9", "0.98"),
    "diesel": _fuel("Diesel", "t", "42.652", "20.2", "0.98"),
    "natural_gas": _fuel("Natural gas", "10^4 Nm3", "389.31", "15.3", "0.99"),
}


@dataclass(frozen=True)
class GridFactor:
    region: str  # national | sichuan
    year: int
    kg_co2_per_kwh: Decimal
    source: str


_NOTICES = {
    2022: "MEE & NBS notice on 2022 electricity CO2 emission factors (2024 No. 33)",
    2023: "MEE & NBS 2023 electricity CO2 emission factors (published 2025)",
}
_TABLES = {"national": "national grid average", "sichuan": "Sichuan provincial table"}

GRID: dict[tuple[str, int], GridFactor] = {
    (region, year): GridFactor(region, year, Decimal(value), f"{_NOTICES[year]}, {_TABLES[region]}")
    for (region, year), value in {
        ("national", 2022): "0.5366", ("national", 2023): "0.5306",
        ("sichuan", 2022): "0.1404", ("sichuan", 2023): "0.1564",
    }.items()
}
