"""Deciding a batch of trips against a citizen's history: the claim window, duplicates,
overlaps, speed and caps.

Pure: the store gathers the history (locked), this decides, the store writes what it says.
Trips are judged in start-time order per citizen, so the result does not depend on input order.
"""
from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from .travel import (ALL_MODES, MAX_TRIP_DURATION, Mode, TravelRules, TripRefusal,
                     implausible_speed, trip_reduction, within_daily_caps)

DUPLICATE = TripRefusal("this external_id was already recorded", "external_id",
                        "duplicate-external-id")
OVERLAP = TripRefusal("overlaps in time with another recorded trip", code="overlapping-trip")
TOO_LONG = TripRefusal(f"a trip lasts at most {MAX_TRIP_DURATION.total_seconds() / 3600:g} hours",
                      "ended_at", "trip-too-long")

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


_STARTED, _ENDED = attrgetter("started_at"), attrgetter("ended_at")


def within_claim_window(claims: list[TripClaim], rules: TravelRules, now: datetime,
                        ) -> tuple[list[TripClaim], list[TripDecision]]:
    """The claims inside the claim window at `now`, and a rejection for each of the others.
    Asked first: the history read and the date arithmetic are only done on trips it lets in."""
    window = rules.claim_window
    # A feed is mostly inside: if its earliest start and latest start and end are, all its trips
    # are (the window's own question for those extremes; 10,000 questions took ~10 ms, before
    # the history read could be sent).
    if claims and window.refusal(min(map(_STARTED, claims)),
                                 max(max(map(_STARTED, claims)), max(map(_ENDED, claims))),
                                 now) is None:
        return list(claims), []
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
    decisions = {d.claim.index: d for d in judged_in_order(claims, history, rules)}
    return [decisions[c.index] for c in claims]


JUDGING_ORDER = attrgetter("user_id", "started_at", "index")  # each citizen's trips by start
_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS_PER_HOUR = 3_600_000_000
_NO_TIME = timedelta(0)


def judged_in_order(claims: list[TripClaim], history: dict[str, CitizenHistory],
                    rules: TravelRules) -> Iterator[TripDecision]:
    """decide_trips' decisions in JUDGING_ORDER, each as soon as it is made (the store writes an
    accepted trip while the next ones are judged). Mutates `history`.

    The rules in the order they are asked: duplicate, speed, duration, overlap, daily caps. CitizenHistory's
    methods are inlined (a citizen's collections looked up once, not per trip) and each fare's
    figures computed once: a feed repeats its fares."""
    # fare -> [_shortest_plausible, then once a trip of it passes: reduction, points, mode cap]
    fares: dict[tuple[Mode, Decimal], list] = {}
    total_cap = rules.daily_cap_total
    user_id = None
    for claim in sorted(claims, key=JUDGING_ORDER):
        if claim.user_id != user_id:  # claims come citizen by citizen
            user_id = claim.user_id
            past = history.get(user_id)
            if past is None:  # not setdefault: it would build a history per claim, used or not
                past = history[user_id] = CitizenHistory()
            known, intervals = past.external_ids, past.intervals
            by_day_mode, by_day = past.points_by_day_mode, past.points_by_day
        if claim.external_id in known:
            yield TripDecision(claim, "duplicate", DUPLICATE)
            continue
        mode, start, end = claim.mode, claim.started_at, claim.ended_at
        key = (mode, claim.distance_km)
        fare = fares.get(key)
        if fare is None:
            fare = fares[key] = [_shortest_plausible(rules, mode, claim.distance_km)]
        span = end - start
        if span <= _NO_TIME or (span < fare[0] if fare[0] is not None else
                                claim.distance_km * _MICROSECONDS_PER_HOUR
                                > rules.max_speed(mode) * (span // _MICROSECOND)):
            hours = Decimal(span // _MICROSECOND) / _MICROSECONDS_PER_HOUR  # to word a refusal
            if reason := implausible_speed(rules, mode, claim.distance_km, hours):
                yield TripDecision(claim, "rejected", reason)
                continue
        if span > MAX_TRIP_DURATION:
            yield TripDecision(claim, "rejected", TOO_LONG)
            continue
        i = bisect_left(intervals, (end,))  # CitizenHistory.overlaps
        if i and intervals[i - 1][1] > start:
            yield TripDecision(claim, "rejected", OVERLAP)
            continue
        if len(fare) == 1:
            fare += (*trip_reduction(rules, mode, claim.distance_km), rules.mode_cap(mode))
        _, reduction_g, earned, mode_cap = fare
        day = claim.local_day
        day_mode = (day, mode)
        mode_so_far, so_far = by_day_mode[day_mode], by_day[day]
        if earned <= mode_cap - mode_so_far and earned <= total_cap - so_far:
            points, capped_by = earned, None  # within_daily_caps' answer when no cap bites
        else:
            points, capped_by = within_daily_caps(rules, mode, earned, mode_so_far, so_far)
        known.add(claim.external_id)  # CitizenHistory.record
        insort(intervals, (start, end))
        by_day_mode[day_mode] = mode_so_far + points
        by_day[day] = so_far + points
        yield TripDecision(claim, "accepted", capped_by, reduction_g, points)


def _shortest_plausible(rules: TravelRules, mode: Mode, distance_km: Decimal
                        ) -> timedelta | None:
    """The shortest time a trip of `distance_km` by `mode` may take: the speed rule (km x us/h
    <= km/h x us, in exact numbers) as one comparison of timedeltas per trip, the two Decimal
    products having cost more than the rest of the rules. None where there is no such bound
    (no positive speed limit, a distance that is no finite number, a bound past timedelta's
    range): then the rule's own comparison is made."""
    top = rules.max_speed(mode)
    if top <= 0 or not distance_km.is_finite():
        return None
    # km x us/h > top x us  <=>  us < km x us/h / top  <=>  us < ceil(km x us/h / top), us whole
    try:
        return timedelta(microseconds=math.ceil(Fraction(distance_km) * _MICROSECONDS_PER_HOUR
                                                / top))
    except OverflowError:
        return None


def daily_earnings(decisions: list[TripDecision], rules: TravelRules,
                   ) -> dict[tuple[str, date, str], tuple[int, int]]:
    """Points the accepted trips add to each (citizen, day, cap group), with that group's cap:
    what the store adds to the day's cap rows, whose check refuses any sum above the cap."""
    # first by (citizen, day, mode): one sum per trip, then each sum into its mode's cap groups
    by_mode: dict[tuple[str, date, Mode], int] = {}
    for decision in decisions:
        if decision.points and decision.status == "accepted":
            claim = decision.claim
            key = (claim.user_id, claim.local_day, claim.mode)
            by_mode[key] = by_mode.get(key, 0) + decision.points
    added: dict[tuple[str, date, str], tuple[int, int]] = {}
    groups_of: dict[Mode, tuple[tuple[str, int], ...]] = {}  # asked once per mode
    for (user_id, day, mode), points in by_mode.items():
        groups = groups_of.get(mode)
        if groups is None:
            groups = groups_of[mode] = rules.daily_caps(mode)
        for group, cap in groups:
            so_far = added.get((user_id, day, group))
            added[(user_id, day, group)] = ((so_far[0] if so_far else 0) + points, cap)
    return added
