"""Deciding a batch of trips against a citizen's history: the claim window, duplicates,
overlaps, speed and caps.

Pure: the store gathers the history (locked), this decides, the store writes what it says.
Trips are judged in start-time order per citizen, so the result does not depend on input order.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from .travel import (ALL_MODES, Mode, TravelRules, TripRefusal, implausible_speed,
                     trip_reduction, within_daily_caps)

DUPLICATE = TripRefusal("this external_id was already recorded", "external_id",
                        "duplicate-external-id")
OVERLAP = TripRefusal("overlaps in time with another recorded trip", code="overlapping-trip")

CITY_TZ = ZoneInfo("Asia/Shanghai")  # daily caps follow the city's calendar day


def trip_time_problem(moment: datetime) -> str | None:
    """None if `moment` can be a trip's start or end, else what is wrong with it. Whether it may
    be claimed now is the claim window's question (`within_claim_window`), asked per trip."""
    if 1 < moment.year < 9999:  # offsets are under a day: no conversion leaves years 1-9999
        return None
    try:
        moment.astimezone(UTC), moment.astimezone(CITY_TZ)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        return "is out of the range of representable times"
    return None


class _Claim(NamedTuple):
    index: int  # position in the request, for the answer
    user_id: str
    mode: Mode
    distance_km: Decimal
    started_at: datetime
    ended_at: datetime
    external_id: str
    local_day: date  # the city's calendar day it started on


class TripClaim(_Claim):
    """A tuple, as TripDecision, since a feed makes 10,000: a frozen dataclass's field-by-field
    __init__ took as long as its reading from JSON. `local_day` follows from `started_at`."""

    __slots__ = ()

    def __new__(cls, index: int, user_id: str, mode: Mode, distance_km: Decimal,
                started_at: datetime, ended_at: datetime, external_id: str) -> TripClaim:
        return tuple.__new__(cls, (index, user_id, mode, distance_km, started_at, ended_at,
                                   external_id, started_at.astimezone(CITY_TZ).date()))

    def _replace(self, **changes: Any) -> TripClaim:  # local_day follows started_at
        fields = {**self._asdict(), **changes}
        del fields["local_day"]
        return TripClaim(**fields)


@dataclass
class CitizenHistory:
    """What is already recorded for one citizen around the batch's time window."""

    external_ids: set[str] = field(default_factory=set)
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list)  # sorted, disjoint
    points_by_day_mode: dict[tuple[date, Mode], int] = field(default_factory=lambda: defaultdict(int))
    points_by_day: dict[date, int] = field(default_factory=lambda: defaultdict(int))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect_left(self.intervals, (end,))
        return i > 0 and self.intervals[i - 1][1] > start

    def add_points(self, day: date, mode: Mode, points: int) -> None:
        self.points_by_day_mode[(day, mode)] += points
        self.points_by_day[day] += points

    def already_earned(self, day: date, group: str, points: int) -> None:
        """What the day's cap row of `group` (a mode, or ALL_MODES) says was earned so far."""
        if group == ALL_MODES:
            self.points_by_day[day] = points
        else:
            self.points_by_day_mode[(day, Mode(group))] = points

    def record(self, claim: TripClaim, points: int) -> None:
        self.external_ids.add(claim.external_id)
        insort(self.intervals, (claim.started_at, claim.ended_at))
        self.add_points(claim.local_day, claim.mode, points)


class TripDecision(NamedTuple):
    """Immutable like the claim; a tuple since a feed makes 10,000 (a frozen dataclass's
    field-by-field __init__ was a tenth of deciding one)."""

    claim: TripClaim
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    reduction_g: Decimal = Decimal(0)
    points: int = 0


def within_claim_window(claims: list[TripClaim], rules: TravelRules, now: datetime,
                        ) -> tuple[list[TripClaim], list[TripDecision]]:
    """The claims inside the claim window at `now`, and a rejection for each of the others.
    Asked first: the history read and the date arithmetic are only done on trips it lets in."""
    inside, refused = [], []
    for claim in claims:
        if reason := rules.claim_window.refusal(claim.started_at, claim.ended_at, now):
            refused.append(TripDecision(claim, "rejected", reason))
        else:
            inside.append(claim)
    return inside, refused


def decide_trips(claims: list[TripClaim], history: dict[str, CitizenHistory],
                 rules: TravelRules) -> list[TripDecision]:
    """One decision per claim, in the claims' original order. Mutates `history`."""
    decisions: dict[int, TripDecision] = {}
    reductions: dict[tuple[Mode, Decimal], tuple[Decimal, int]] = {}  # a feed repeats its fares
    for claim in sorted(claims, key=lambda c: (c.user_id, c.started_at, c.index)):
        past = history.get(claim.user_id)
        if past is None:  # not setdefault: it would build a history per claim, used or not
            past = history[claim.user_id] = CitizenHistory()
        decisions[claim.index] = _decide(claim, past, rules, reductions)
    return [decisions[c.index] for c in claims]


_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS_PER_HOUR = 3_600_000_000


def _decide(claim: TripClaim, past: CitizenHistory, rules: TravelRules,
            reductions: dict[tuple[Mode, Decimal], tuple[Decimal, int]]) -> TripDecision:
    if claim.external_id in past.external_ids:
        return TripDecision(claim, "duplicate", DUPLICATE)
    # Plausible speeds compared exactly in whole numbers (km x us/h <= km/h x us); the Decimal
    # division, only to word a refusal, cost more than the rest of the rules.
    micros = (claim.ended_at - claim.started_at) // _MICROSECOND
    if micros <= 0 or (claim.distance_km * _MICROSECONDS_PER_HOUR
                       > rules.max_speed(claim.mode) * micros):
        hours = Decimal(micros) / _MICROSECONDS_PER_HOUR
        if reason := implausible_speed(rules, claim.mode, claim.distance_km, hours):
            return TripDecision(claim, "rejected", reason)
    if past.overlaps(claim.started_at, claim.ended_at):
        return TripDecision(claim, "rejected", OVERLAP)
    key = (claim.mode, claim.distance_km)
    reduction = reductions.get(key)
    if reduction is None:
        reduction = reductions[key] = trip_reduction(rules, claim.mode, claim.distance_km)
    reduction_g, earned = reduction
    points, capped_by = within_daily_caps(
        rules, claim.mode, earned, past.points_by_day_mode[(claim.local_day, claim.mode)],
        past.points_by_day[claim.local_day])
    past.record(claim, points)
    return TripDecision(claim, "accepted", capped_by, reduction_g, points)


def daily_earnings(decisions: list[TripDecision], rules: TravelRules,
                   ) -> dict[tuple[str, date, str], tuple[int, int]]:
    """Points the accepted trips add to each (citizen, day, cap group), with that group's cap:
    what the store adds to the day's cap rows, whose check refuses any sum above the cap."""
    added: dict[tuple[str, date, str], tuple[int, int]] = {}
    groups_of: dict[Mode, tuple[tuple[str, int], ...]] = {}  # asked once per mode, not per trip
    for decision in decisions:
        if decision.status != "accepted" or not decision.points:
            continue
        claim = decision.claim
        groups = groups_of.get(claim.mode)
        if groups is None:
            groups = groups_of[claim.mode] = rules.daily_caps(claim.mode)
        for group, cap in groups:
            key = (claim.user_id, claim.local_day, group)
            so_far = added.get(key)
            added[key] = ((so_far[0] if so_far else 0) + decision.points, cap)
    return added
