"""Green travel (碳普惠): the reduction a trip earns against a city-wide mixed-mode baseline.

Methodology: Shenzhen's low-carbon public travel methodology (深圳市低碳公共出行碳普惠方法学,
2021), the one docs/architecture.md §8 already takes bus and metro from. Like Beijing DB11/T 3043-2024 and
Zhejiang DB33/T 1312-2023 it uses the mean-value method (均值法): the baseline is the city's
average emission per person-km over all motorised modes, and a trip's reduction is that
baseline minus its own mode's emission. We chose it because it is the one whose per-mode
figures we could read (bus, metro); for walking and cycling (own emission 0) the reduction is
the baseline itself, whose value we could not read in any public transcription (see
WALK_BIKE_G_PER_PKM). Electric cars keep the displaced private gasoline car as their baseline
(no city methodology above covers them) with the Sichuan provincial grid, since the platform
serves a Sichuan city (Nanchong). Every figure is listed, with its source, at
GET /api/v1/methodology (domain/methodology.py).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from functools import cached_property

from tanhui_shared.methodology import FUELS, GRID

SICHUAN_GRID = GRID[("sichuan", 2023)]  # the newest published provincial factor
GASOLINE = FUELS["gasoline"]

# Shenzhen low-carbon public travel methodology (2021): reductions per person-km against the
# mixed-mode baseline (docs/architecture.md §8).
BUS_G_PER_PKM = Decimal("26.9")  # e-bus
METRO_G_PER_PKM = Decimal("46.7")  # metro
# Walking and cycling emit nothing, so their reduction is the baseline itself. We could not read
# the baseline's published value; since metro's own emission is >= 0, the baseline is at least
# metro's reduction, and the conservativeness principle of these methodologies (DB11/T
# 3043-2024 §4.3 保守性) takes that lower bound: 46.7 g. Not verified against the text.
WALK_BIKE_G_PER_PKM = METRO_G_PER_PKM


class Mode(StrEnum):
    WALK = "walk"
    BIKE = "bike"
    BUS = "bus"
    METRO = "metro"
    EV = "ev"


ALL_MODES = "all"  # the cap group of a day's total, beside one group per mode

# Platform assumption (anti-fraud, beside the speed limits): no trip of any mode lasts longer
# (walking the day's capped 43 km at 5 km/h takes under 9 hours). The table holds it too
# (ck_green_trip_duration_bounded), so the overlap reads start this long before a claim instead
# of at the start of the citizen's whole history.
MAX_TRIP_DURATION = timedelta(hours=12)


@dataclass(frozen=True)
class EvBaseline:
    """An electric car's trip against the private gasoline car it displaced."""

    litres_per_100km: Decimal = Decimal("7.0")  # Chinese passenger-car fleet average (MIIT CAFC reports)
    gasoline_kg_per_litre: Decimal = Decimal("0.725")  # GB 17930 gasoline density at 20 C
    # platform assumption: persons per urban car trip (no published city figure found)
    occupancy: Decimal = Decimal("1.5")
    # platform assumption: a typical compact battery-electric car's consumption
    ev_kwh_per_100km: Decimal = Decimal("15")
    grid_kg_per_kwh: Decimal = SICHUAN_GRID.kg_co2_per_kwh  # Sichuan provincial grid, 2023

    def car_g_per_vkm(self) -> Decimal:
        kg_fuel = self.litres_per_100km / 100 * self.gasoline_kg_per_litre
        # tCO2 per t of fuel = kg CO2 per kg of fuel; x1000 for grams
        return kg_fuel * GASOLINE.components.tco2_per_unit() * 1000

    def ev_saving_g_per_pkm(self) -> Decimal:
        ev_g_per_vkm = self.ev_kwh_per_100km / 100 * self.grid_kg_per_kwh * 1000
        return (self.car_g_per_vkm() - ev_g_per_vkm) / self.occupancy


class TripRefusal(str):
    """Why a trip is refused, naming the input it is about: a single trip's 422 names that field,
    a feed's per-record rejection gives the text and `code`, a stable machine name for it."""

    field: str
    code: str

    def __new__(cls, text: str, field: str = "trip",
                code: str = "trip-refused") -> "TripRefusal":
        refusal = super().__new__(cls, text)
        refusal.field = field
        refusal.code = code
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
            return TripRefusal("started_at is in the future", "started_at", "trip-in-future")
        if ended_at > latest:
            return TripRefusal("ended_at is in the future: record a trip once it has ended",
                               "ended_at", "trip-not-ended")
        if started_at < now - self.max_age:
            return TripRefusal(f"started_at is more than {_span(self.max_age)} ago: trips are "
                               f"credited only within {_span(self.max_age)} of the trip",
                               "started_at", "outside-claim-window")
        return None


def _span(delta: timedelta) -> str:
    if delta % timedelta(days=1):
        return f"{delta.total_seconds() / 3600:g} hours"
    return f"{delta.days} days" if delta.days != 1 else "1 day"


@dataclass(frozen=True)
class TravelRules:
    ev: EvBaseline = EvBaseline()
    walk_bike_g_per_pkm: Decimal = WALK_BIKE_G_PER_PKM
    bus_g_per_pkm: Decimal = BUS_G_PER_PKM
    metro_g_per_pkm: Decimal = METRO_G_PER_PKM
    points_per_kg: int = 100  # platform assumption: 1 point = 10 g CO2e avoided
    # Redemption unit (platform assumption): 1,000 points = 10 kg CO2e, the smallest share of a
    # pooled tonne a citizen may ask for; 100 units make one 1 tCO2e credit.
    redemption_unit_points: int = 1_000
    # Platform assumptions (anti-fraud): average speeds above these are not that mode, km/h.
    max_kmh: tuple[tuple[Mode, int], ...] = ((Mode.WALK, 10), (Mode.BIKE, 35), (Mode.BUS, 80),
                                              (Mode.METRO, 120), (Mode.EV, 130))
    # Platform assumptions: daily points caps per mode and overall (at 46.7 g/pkm, walking's
    # 200 points are about 43 km, cycling's 400 about 86 km).
    daily_cap_points: tuple[tuple[Mode, int], ...] = ((Mode.WALK, 200), (Mode.BIKE, 400),
                                                      (Mode.BUS, 300), (Mode.METRO, 500),
                                                      (Mode.EV, 300))
    daily_cap_total: int = 1000
    claim_window: ClaimWindow = ClaimWindow()

    # Per-mode figures computed once per rules object, not once per trip (a feed has 10,000).
    @cached_property
    def _g_per_pkm(self) -> dict[Mode, Decimal]:
        return {Mode.WALK: self.walk_bike_g_per_pkm, Mode.BIKE: self.walk_bike_g_per_pkm,
                Mode.BUS: self.bus_g_per_pkm, Mode.METRO: self.metro_g_per_pkm,
                Mode.EV: self.ev.ev_saving_g_per_pkm()}

    @cached_property
    def _max_kmh(self) -> dict[Mode, int]:
        return dict(self.max_kmh)

    @cached_property
    def _mode_caps(self) -> dict[Mode, int]:
        return dict(self.daily_cap_points)

    def reduction_g_per_pkm(self, mode: Mode) -> Decimal:
        return self._g_per_pkm[mode]

    @property
    def points_per_credit(self) -> int:
        """Points worth one 1 tCO2e credit (1,000 kg)."""
        return self.points_per_kg * 1000

    @property
    def redemption_unit_kg(self) -> int:
        return self.redemption_unit_points // self.points_per_kg

    def max_speed(self, mode: Mode) -> int:
        return self._max_kmh[mode]

    def mode_cap(self, mode: Mode) -> int:
        return self._mode_caps[mode]

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


def implausible_speed(rules: TravelRules, mode: Mode, distance_km: Decimal,
                      hours: Decimal) -> TripRefusal | None:
    if hours <= 0:
        return TripRefusal("the trip must end after it starts", code="trip-ends-before-start")
    speed = distance_km / hours
    if speed > rules.max_speed(mode):
        return TripRefusal(f"average speed {speed:.1f} km/h is implausible for {mode.value} "
                           f"(at most {rules.max_speed(mode)} km/h)", code="implausible-speed")
    return None


def credit_trip(rules: TravelRules, mode: Mode, distance_km: Decimal,
                mode_points_today: int, total_points_today: int) -> TripCredit:
    """Reduction in grams and the points it earns, within today's caps (already earned given)."""
    reduction_g, earned = trip_reduction(rules, mode, distance_km)
    points, capped_by = within_daily_caps(rules, mode, earned, mode_points_today,
                                          total_points_today)
    return TripCredit(reduction_g, points, capped_by)


def trip_reduction(rules: TravelRules, mode: Mode, distance_km: Decimal) -> tuple[Decimal, int]:
    """(reduction in grams, the whole points it earns before any cap)."""
    reduction_g = (rules.reduction_g_per_pkm(mode) * distance_km).quantize(Decimal("0.1"), ROUND_DOWN)
    return reduction_g, int(reduction_g * rules.points_per_kg / 1000)  # whole points, rounded down


def within_daily_caps(rules: TravelRules, mode: Mode, earned: int, mode_points_today: int,
                      total_points_today: int) -> tuple[int, str | None]:
    """(points credited, why fewer than `earned` if so), given what the day already earned."""
    room_mode = max(0, rules.mode_cap(mode) - mode_points_today)
    room_total = max(0, rules.daily_cap_total - total_points_today)
    points = min(earned, room_mode, room_total)
    capped_by = None
    if points < earned:
        capped_by = (f"daily {mode.value} cap of {rules.mode_cap(mode)} points reached"
                     if room_mode <= room_total else
                     f"daily cap of {rules.daily_cap_total} points reached")
    return points, capped_by
