"""Green travel (碳普惠): the reduction a trip earns against the car trip it displaced, and points.

Bus and metro use the Shenzhen low-carbon public travel methodology (2021) reductions per
person-km directly (DESIGN.md §8). Walking, cycling and battery-electric cars are derived here
from a documented baseline: a private gasoline car. Every figure is a platform parameter.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
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


class TripRefusal(str):
    """Why a trip is refused, naming the input it is about: a single trip's 422 names that field,
    a feed's per-record rejection gives the text."""

    field: str

    def __new__(cls, text: str, field: str = "trip") -> "TripRefusal":
        refusal = super().__new__(cls, text)
        refusal.field = field
        return refusal


@dataclass(frozen=True)
class ClaimWindow:
    """When a trip may be claimed: not in the future, not older than `max_age`, whoever sends it
    (a citizen's app or a transit operator's feed)."""

    # Beijing's MaaS green-travel carbon-inclusion scheme ("MaaS出行 绿动全城", Beijing Municipal
    # Commission of Transport with Amap and Baidu Maps, launched 2020-09; Beijing Daily,
    # 2020-09-11, bj.people.com.cn/n2/2020/0911/c82840-34285115.html): a bus or rail trip's
    # carbon energy is generated two days after the trip and must be collected within 7 days of
    # that. We take the 7 days and count them from the trip itself, since feeds and apps report
    # here without Beijing's two-day processing delay.
    max_age: timedelta = timedelta(days=7)
    # Clocks of phones and operators' systems drift; 300 s is the usual tolerance (MIT Kerberos
    # krb5.conf(5) `clockskew` default, krb5 1.13). A trip ending later than this is refused.
    clock_skew: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        # Bounded so that the window's own arithmetic, and the history read around the trips it
        # lets in, stay far from the ends of datetime's range.
        if not timedelta(hours=1) <= self.max_age <= timedelta(days=366):
            raise ValueError("the claim window's max_age must be between 1 hour and 366 days")
        if not timedelta(0) <= self.clock_skew <= timedelta(hours=1):
            raise ValueError("the claim window's clock_skew must be between 0 and 1 hour")

    def refusal(self, started_at: datetime, ended_at: datetime,
                now: datetime) -> TripRefusal | None:
        """None if a trip of this span may be claimed at `now`, else why not."""
        latest = now + self.clock_skew
        if started_at > latest:
            return TripRefusal("started_at is in the future", "started_at")
        if ended_at > latest:
            return TripRefusal("ended_at is in the future: record a trip once it has ended",
                               "ended_at")
        if started_at < now - self.max_age:
            return TripRefusal(f"started_at is more than {_span(self.max_age)} ago: trips are "
                               f"credited only within {_span(self.max_age)} of the trip",
                               "started_at")
        return None


def _span(delta: timedelta) -> str:
    if delta % timedelta(days=1):
        return f"{delta.total_seconds() / 3600:g} hours"
    return f"{delta.days} days" if delta.days != 1 else "1 day"


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
    claim_window: ClaimWindow = ClaimWindow()

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


def travel_rules(claim_window_days: int) -> TravelRules:
    """The rules with a platform's own claim window (settings.trip_claim_window_days)."""
    if claim_window_days == RULES.claim_window.max_age.days:
        return RULES
    return replace(RULES, claim_window=replace(RULES.claim_window,
                                               max_age=timedelta(days=claim_window_days)))


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
