"""Green travel (碳普惠): the reduction a trip earns against the car trip it displaced, and points.

Bus and metro use the Shenzhen low-carbon public travel methodology (2021) reductions per
person-km directly (DESIGN.md §8). Walking, cycling and battery-electric cars are derived here
from a documented baseline: a private gasoline car. Every figure is a platform parameter.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum


class Mode(StrEnum):
    WALK = "walk"
    BIKE = "bike"
    BUS = "bus"
    METRO = "metro"
    EV = "ev"


ALL_MODES = "all"  # the cap group of a day's total, beside one group per mode


@dataclass(frozen=True)
class Baseline:
    """The displaced trip: a private gasoline car."""

    litres_per_100km: Decimal = Decimal("7.0")  # Chinese passenger-car fleet average (MIIT CAFC reports)
    gasoline_kg_per_litre: Decimal = Decimal("0.725")  # GB 17930 gasoline density at 20 C
    gasoline_tco2_per_t: Decimal = Decimal("2.9251")  # DESIGN.md §8
    occupancy: Decimal = Decimal("1.5")  # persons per urban car trip
    ev_kwh_per_100km: Decimal = Decimal("15")  # typical compact battery-electric car
    grid_kg_per_kwh: Decimal = Decimal("0.5306")  # national grid 2023 (DESIGN.md §8)

    def car_g_per_vkm(self) -> Decimal:
        kg_fuel = self.litres_per_100km / 100 * self.gasoline_kg_per_litre
        return kg_fuel * self.gasoline_tco2_per_t * 1000  # kg fuel x kgCO2/kg fuel -> g

    def car_g_per_pkm(self) -> Decimal:
        return self.car_g_per_vkm() / self.occupancy

    def ev_saving_g_per_pkm(self) -> Decimal:
        ev_g_per_vkm = self.ev_kwh_per_100km / 100 * self.grid_kg_per_kwh * 1000
        return (self.car_g_per_vkm() - ev_g_per_vkm) / self.occupancy


@dataclass(frozen=True)
class TravelRules:
    baseline: Baseline = Baseline()
    bus_g_per_pkm: Decimal = Decimal("26.9")  # Shenzhen methodology (2021), e-bus
    metro_g_per_pkm: Decimal = Decimal("46.7")  # Shenzhen methodology (2021), metro
    points_per_kg: int = 100  # 1 point = 10 g CO2e avoided
    points_per_credit: int = 100_000  # 1 sink credit (1 tCO2e) for 100,000 points
    # Average speeds above these are not that mode (anti-fraud), km/h.
    max_kmh: tuple[tuple[Mode, int], ...] = ((Mode.WALK, 10), (Mode.BIKE, 35), (Mode.BUS, 80),
                                              (Mode.METRO, 120), (Mode.EV, 130))
    # Daily points caps per mode and overall: walking 20 km, cycling 40 km a day, etc.
    daily_cap_points: tuple[tuple[Mode, int], ...] = ((Mode.WALK, 200), (Mode.BIKE, 400),
                                                      (Mode.BUS, 300), (Mode.METRO, 500),
                                                      (Mode.EV, 300))
    daily_cap_total: int = 1000

    def reduction_g_per_pkm(self, mode: Mode) -> Decimal:
        return {
            Mode.WALK: self.baseline.car_g_per_pkm(),
            Mode.BIKE: self.baseline.car_g_per_pkm(),
            Mode.BUS: self.bus_g_per_pkm,
            Mode.METRO: self.metro_g_per_pkm,
            Mode.EV: self.baseline.ev_saving_g_per_pkm(),
        }[mode]

    def max_speed(self, mode: Mode) -> int:
        return dict(self.max_kmh)[mode]

    def mode_cap(self, mode: Mode) -> int:
        return dict(self.daily_cap_points)[mode]

    def daily_caps(self, mode: Mode) -> tuple[tuple[str, int], ...]:
        """The cap groups a trip of `mode` counts towards, each with its cap: its mode's, the total."""
        return ((mode.value, self.mode_cap(mode)), (ALL_MODES, self.daily_cap_total))


RULES = TravelRules()


@dataclass(frozen=True)
class TripCredit:
    reduction_g: Decimal
    points: int
    capped_by: str | None  # why fewer points than the reduction earns, if so


def implausible_speed(rules: TravelRules, mode: Mode, distance_km: Decimal, hours: Decimal) -> str | None:
    if hours <= 0:
        return "the trip must end after it starts"
    speed = distance_km / hours
    if speed > rules.max_speed(mode):
        return (f"average speed {speed:.1f} km/h is implausible for {mode.value} "
                f"(at most {rules.max_speed(mode)} km/h)")
    return None


def credit_trip(rules: TravelRules, mode: Mode, distance_km: Decimal,
                mode_points_today: int, total_points_today: int) -> TripCredit:
    """Reduction in grams and the points it earns, within today's caps (already earned given)."""
    reduction_g = (rules.reduction_g_per_pkm(mode) * distance_km).quantize(Decimal("0.1"), ROUND_DOWN)
    earned = int(reduction_g * rules.points_per_kg / 1000)  # whole points, rounded down
    room_mode = max(0, rules.mode_cap(mode) - mode_points_today)
    room_total = max(0, rules.daily_cap_total - total_points_today)
    points = min(earned, room_mode, room_total)
    capped_by = None
    if points < earned:
        capped_by = (f"daily {mode.value} cap of {rules.mode_cap(mode)} points reached"
                     if room_mode <= room_total else
                     f"daily cap of {rules.daily_cap_total} points reached")
    return TripCredit(reduction_g, points, capped_by)
