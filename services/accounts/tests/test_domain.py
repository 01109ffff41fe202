"""Worked examples for the pure rules, with figures from the published methodology."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tanhui_accounts.domain.factors import STARTING_FACTORS
from tanhui_accounts.domain.points import (EntryKind, InsufficientPoints, PointsPosition,
                                           RedemptionState, settle_entry)
from tanhui_accounts.domain.reports import Activity, ActivityError, compute_report
from tanhui_accounts.domain.travel import RULES, Mode, credit_trip, implausible_speed
from tanhui_accounts.domain.trip_batch import (CitizenHistory, TripClaim, daily_earnings,
                                               decide_trips, trip_time_problem)
from tanhui_accounts.domain.units import IncompatibleUnit, convert
from tanhui_accounts.domain.uscc import check_character, uscc_problem

FACTORS = {f.code: f for f in STARTING_FACTORS}


def four_sf(value: Decimal) -> str:
    return f"{float(value):.4g}"


@pytest.mark.parametrize("code, published", [
    ("fuel.raw_coal", "1.9"),  # 1.9003 tCO2/t: 20.908 GJ/t x 26.37 tC/TJ x 0.94 x 44/12
    ("fuel.gasoline", "2.925"),  # 2.9251
    ("fuel.diesel", "3.096"),  # 3.0959
    ("fuel.natural_gas", "21.62"),  # 21.62 tCO2 per 10^4 Nm3
])
def test_fuel_factors_reproduce_the_guideline_to_four_significant_figures(code, published):
    assert four_sf(FACTORS[code].value) == published
    assert FACTORS[code].components is not None  # kept as NCV, carbon content, oxidation rate


def test_grid_factors_are_the_published_kg_per_kwh():
    assert FACTORS["grid.sichuan.2023"].value * 1000 == Decimal("0.1564")
    assert FACTORS["grid.national.2022"].value * 1000 == Decimal("0.5366")
    assert FACTORS["grid.national.2023"].scope == 2


def test_a_report_mixing_coal_diesel_gas_and_sichuan_electricity_sums_by_scope():
    figures = compute_report([
        Activity("fuel.raw_coal", Decimal("100"), "t"),  # 100 x 1.90030 = 190.0299
        Activity("fuel.diesel", Decimal("2000"), "kg"),  # 2 t x 3.09591 = 6.1918
        Activity("fuel.natural_gas", Decimal("50000"), "m3"),  # 5 x 10^4 Nm3 x 21.62189 = 108.1094
        Activity("grid.sichuan.2023", Decimal("1000"), "MWh"),  # 1e6 kWh x 0.1564 kg = 156.4 t
    ], FACTORS)
    assert [line.tco2e for line in figures.lines] == [
        Decimal("190.0299"), Decimal("6.1918"), Decimal("108.1094"), Decimal("156.4000")]
    assert figures.scope1_tco2e == Decimal("304.3311")
    assert figures.scope2_tco2e == Decimal("156.4000")
    assert figures.total_tco2e == Decimal("460.7311")
    assert "2000 kg = 2 t x 3.0959" in figures.lines[1].derivation
    assert "fuel.diesel v2015" in figures.lines[1].derivation


def test_an_unknown_factor_or_an_incompatible_unit_names_the_line_and_field():
    with pytest.raises(ActivityError) as unknown:
        compute_report([Activity("fuel.raw_coal", Decimal(1), "t"),
                        Activity("fuel.unobtainium", Decimal(1), "t")], FACTORS)
    assert (unknown.value.index, unknown.value.field) == (1, "factor_code")
    with pytest.raises(ActivityError) as wrong_unit:
        compute_report([Activity("grid.sichuan.2023", Decimal(1), "t")], FACTORS)
    assert (wrong_unit.value.index, wrong_unit.value.field) == (0, "unit")


def test_unit_conversions():
    assert convert(Decimal("2500"), "kg", "t") == Decimal("2.5")
    assert convert(Decimal("3"), "MWh", "kWh") == Decimal("3000")
    assert convert(Decimal("25000"), "m3", "10^4 Nm3") == Decimal("2.5")
    with pytest.raises(IncompatibleUnit):
        convert(Decimal(1), "kWh", "t")
    with pytest.raises(IncompatibleUnit):
        convert(Decimal(1), "barrel", "t")


@pytest.mark.parametrize("code", ["91350100M000100Y43", "914403001922038216", "91110000802100433B"])
def test_real_unified_social_credit_codes_pass(code):
    assert uscc_problem(code) is None


@pytest.mark.parametrize("code, why", [
    ("91350100M000100Y44", "check character"),
    ("91350100M000100Y4", "18 characters"),
    ("91350100M000100I43", "no I, O"),  # I is not in the alphabet
    ("9135010AM000100Y43", "region code"),
])
def test_bad_codes_say_what_is_wrong(code, why):
    assert why in uscc_problem(code)


def test_the_check_character_is_mod_31_over_weighted_positions():
    assert check_character("91350100M000100Y4") == "3"


def test_bus_and_metro_use_the_shenzhen_reductions_per_person_km():
    bus = credit_trip(RULES, Mode.BUS, Decimal("10"), 0, 0)
    metro = credit_trip(RULES, Mode.METRO, Decimal("10"), 0, 0)
    assert bus.reduction_g == Decimal("269.0") and bus.points == 26  # 1 point per 10 g
    assert metro.reduction_g == Decimal("467.0") and metro.points == 46


def test_a_5_km_bike_trip_earns_against_the_mixed_mode_baseline():
    # Shenzhen low-carbon public travel methodology (2021): cycling emits nothing, so it earns
    # the baseline, taken at its conservative lower bound, metro's 46.7 g/person-km.
    # 5 km x 46.7 g = 233.5 g; 1 point per 10 g, rounded down: 23 points.
    trip = credit_trip(RULES, Mode.BIKE, Decimal("5"), 0, 0)
    assert trip.reduction_g == Decimal("233.5") and trip.points == 23
    # no longer twice a metro trip: the same 5 km by metro earns the same
    assert credit_trip(RULES, Mode.METRO, Decimal("5"), 0, 0).points == trip.points


def test_a_10_km_ev_trip_on_the_sichuan_grid():
    # Gasoline, China enterprise GHG accounting guidelines (2015): 43.070 GJ/t x 18.9 tC/TJ
    # x 0.98 oxidation x 44/12 = 2.925056 tCO2/t (kgCO2 per kg of fuel).
    gasoline = Decimal("43.070") * Decimal("18.9") / 1000 * Decimal("0.98") * 44 / 12
    assert round(gasoline, 6) == Decimal("2.925056")
    # The displaced car: 7.0 L/100 km x 0.725 kg/L = 0.05075 kg fuel/km -> 148.447 g/vkm.
    car_g = Decimal("0.07") * Decimal("0.725") * gasoline * 1000
    # The EV: 15 kWh/100 km x 0.1564 kgCO2/kWh (Sichuan provincial grid, MEE & NBS 2023
    # factors) = 23.46 g/vkm.
    ev_g = Decimal("0.15") * Decimal("0.1564") * 1000
    assert ev_g == Decimal("23.46")
    # (148.447 - 23.46) / 1.5 persons = 83.325 g/person-km; x 10 km = 833.2 g -> 83 points.
    expected = ((car_g - ev_g) / Decimal("1.5") * 10).quantize(Decimal("0.1"), "ROUND_DOWN")
    assert expected == Decimal("833.2")
    trip = credit_trip(RULES, Mode.EV, Decimal("10"), 0, 0)
    assert trip.reduction_g == expected and trip.points == 83


def test_daily_caps_trim_points_and_say_why():
    near_cap = credit_trip(RULES, Mode.WALK, Decimal("5"), mode_points_today=190, total_points_today=190)
    assert near_cap.points == 10 and "walk cap" in near_cap.capped_by
    overall = credit_trip(RULES, Mode.METRO, Decimal("10"), 0, total_points_today=990)
    assert overall.points == 10 and "daily cap of 1000" in overall.capped_by


def test_implausible_speeds_are_named():
    assert "implausible for walk" in implausible_speed(RULES, Mode.WALK, Decimal(12), Decimal(1))
    assert implausible_speed(RULES, Mode.BIKE, Decimal(12), Decimal(1)) is None


T0 = datetime(2026, 5, 4, 0, 30, tzinfo=UTC)  # 08:30 in the city


def claim(i, start_min, minutes, external_id=None, mode=Mode.BIKE, km="3", user="u1"):
    start = T0 + timedelta(minutes=start_min)
    return TripClaim(i, user, mode, Decimal(km), start, start + timedelta(minutes=minutes),
                     external_id or f"x{i}")


def test_a_batch_rejects_overlaps_and_duplicates_whatever_their_order():
    claims = [claim(0, 60, 20), claim(1, 0, 20), claim(2, 10, 20), claim(3, 100, 10, "x1")]
    decisions = decide_trips(claims, {}, RULES)
    assert [d.status for d in decisions] == ["accepted", "accepted", "rejected", "duplicate"]
    assert "overlaps" in decisions[2].reason
    again = decide_trips(list(reversed(claims)), {}, RULES)
    assert sorted(d.status for d in again) == sorted(d.status for d in decisions)


def test_speeds_are_judged_exactly_at_the_limit_and_a_trip_must_end_after_it_starts():
    # 12.5 km by metro in 6 min 15 s is exactly 120 km/h, the limit; a microsecond less is over it
    at_limit = TripClaim(0, "u1", Mode.METRO, Decimal("12.5"), T0, T0 + timedelta(seconds=375), "a")
    over = TripClaim(1, "u2", Mode.METRO, Decimal("12.5"), T0,
                     T0 + timedelta(seconds=375, microseconds=-1), "b")
    instant = TripClaim(2, "u3", Mode.METRO, Decimal("1"), T0, T0, "c")
    decisions = decide_trips([at_limit, over, instant], {}, RULES)
    assert [d.status for d in decisions] == ["accepted", "rejected", "rejected"]
    assert "implausible for metro" in decisions[1].reason
    assert "end after it starts" in decisions[2].reason


def test_a_speed_limit_between_two_microseconds_is_judged_exactly():
    # 12.5 km by bike at 35 km/h takes 1,285,714,285.7 us: 1,285,714,286 us is under the limit
    # (34.99999999... km/h), a microsecond less is over it (35.0000000078 km/h)
    def bike(i, micros):
        return TripClaim(i, f"u{i}", Mode.BIKE, Decimal("12.5"), T0,
                         T0 + timedelta(microseconds=micros), f"s{i}")
    decisions = decide_trips([bike(0, 1_285_714_286), bike(1, 1_285_714_285)], {}, RULES)
    assert [d.status for d in decisions] == ["accepted", "rejected"]
    assert "implausible for bike" in decisions[1].reason


def test_the_days_total_caps_a_trip_its_modes_cap_has_room_for():
    past = CitizenHistory()
    past.already_earned(claim(0, 0, 1).local_day, "all", 995)
    decision, = decide_trips([claim(0, 0, 20)], {"u1": past}, RULES)  # 14 points, bike empty
    assert decision.points == 5 and "daily cap of 1000" in decision.reason


def test_history_counts_towards_the_daily_cap():
    past = CitizenHistory()
    past.add_points(claim(0, 0, 1).local_day, Mode.BIKE, 395)
    decision, = decide_trips([claim(0, 0, 20)], {"u1": past}, RULES)
    assert decision.points == 5 and "bike cap" in decision.reason


def test_points_never_go_negative_and_holds_settle_or_release_once():
    start = PointsPosition(balance=300, held=0)
    held = start.apply(EntryKind.HOLD, 200)
    assert (held.balance, held.held, held.available) == (300, 200, 100)
    with pytest.raises(InsufficientPoints):
        held.apply(EntryKind.HOLD, 101)
    assert held.apply(EntryKind.SETTLE, 200) == PointsPosition(100, 0)
    assert held.apply(EntryKind.RELEASE, 200) == PointsPosition(300, 0)
    with pytest.raises(InsufficientPoints):
        start.apply(EntryKind.SETTLE, 1)
    assert settle_entry(RedemptionState.PENDING, RedemptionState.COMPLETED) is EntryKind.SETTLE
    assert settle_entry(RedemptionState.PENDING, RedemptionState.REJECTED) is EntryKind.RELEASE
    assert settle_entry(RedemptionState.COMPLETED, RedemptionState.REJECTED) is None
    assert settle_entry(RedemptionState.REJECTED, RedemptionState.REJECTED) is None


def test_accepted_points_count_towards_their_modes_cap_row_and_the_days_total():
    decisions = decide_trips([claim(0, 0, 20), claim(1, 30, 20, mode=Mode.WALK, km="1"),
                              claim(2, 60, 20, "x0")], {}, RULES)  # the last is a duplicate
    day = decisions[0].claim.local_day
    assert daily_earnings(decisions, RULES) == {
        # 3 km by bike x 46.7 g = 140.1 g -> 14 points; 1 km walking = 46.7 g -> 4 points
        ("u1", day, "bike"): (14, 400), ("u1", day, "walk"): (4, 200), ("u1", day, "all"): (18, 1000)}


def test_the_history_takes_the_days_cap_rows_as_they_are():
    past = CitizenHistory()
    day = claim(0, 0, 1).local_day
    past.already_earned(day, "bike", 390)
    past.already_earned(day, "all", 995)
    decision, = decide_trips([claim(0, 0, 20)], {"u1": past}, RULES)
    assert decision.points == 5 and "daily cap of 1000" in decision.reason


def test_trip_times_must_convert_without_overflow():
    assert "out of the range" in trip_time_problem(datetime.fromisoformat("0001-01-01T00:00:00+14:00"))
    assert "out of the range" in trip_time_problem(datetime.fromisoformat("9999-12-31T23:00:00-12:00"))
    assert trip_time_problem(datetime(1, 1, 1, 12, tzinfo=UTC)) is None  # the claim window's call
    assert trip_time_problem(T0) is None
