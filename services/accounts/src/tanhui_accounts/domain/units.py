"""Activity units and the conversions between those that measure the same thing."""
from __future__ import annotations

from decimal import Decimal


class IncompatibleUnit(ValueError):
    pass


# unit -> (dimension, how many base units one of it is)
_UNITS: dict[str, tuple[str, Decimal]] = {
    "t": ("mass", Decimal(1000)),
    "kg": ("mass", Decimal(1)),
    "kWh": ("energy", Decimal(1)),
    "MWh": ("energy", Decimal(1000)),
    # Gas volumes are taken at standard conditions (Nm3), as the factor's NCV is.
    "m3": ("gas_volume", Decimal(1)),
    "Nm3": ("gas_volume", Decimal(1)),
    "10^4 Nm3": ("gas_volume", Decimal(10_000)),
    "10^4 m3": ("gas_volume", Decimal(10_000)),
    # Purchased heat is metered in GJ (the guidelines' unit for its factor); a separate dimension
    # from electricity so a heat quantity can never be priced with a grid factor.
    "GJ": ("heat", Decimal(1)),
    "MJ": ("heat", Decimal("0.001")),
    "TJ": ("heat", Decimal(1000)),
}

KNOWN_UNITS = tuple(_UNITS)


def convert(quantity: Decimal, from_unit: str, to_unit: str) -> Decimal:
    if from_unit not in _UNITS:
        raise IncompatibleUnit(f"unknown unit {from_unit!r}; known: {', '.join(KNOWN_UNITS)}")
    (dim_from, scale_from), (dim_to, scale_to) = _UNITS[from_unit], _UNITS[to_unit]
    if dim_from != dim_to:
        raise IncompatibleUnit(f"{from_unit} ({dim_from}) cannot be converted to {to_unit} ({dim_to})")
    return quantity * scale_from / scale_to
