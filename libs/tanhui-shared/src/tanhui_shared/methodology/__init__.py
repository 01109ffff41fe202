"""The shared methodology: published inputs (fuels as components, grid factors), the one
`EmissionFactor` type, the library's published versions and the rule that picks the version valid
for a date or period. Reports (accounts), trips and large-event estimates (credits) all read it."""
from __future__ import annotations

from .components import (CO2_PER_C, FUEL_SOURCE, FUEL_VERSION, FUELS, GRID, Fuel, FuelComponents,
                         GridFactor)
from .factors import CATEGORIES, EmissionFactor, version_for
from .library import FACTORS

__all__ = ["CATEGORIES", "CO2_PER_C", "FACTORS", "FUELS", "FUEL_SOURCE", "FUEL_VERSION", "GRID",
           "EmissionFactor", "Fuel", "FuelComponents", "GridFactor", "version_for"]
