"""Pure rules: the two state machines (every pair of state and action) and the methodology."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from tanhui_verification.domain.lifecycle import (
    PROJECT_TRANSITIONS, REPORT_TRANSITIONS, IllegalTransition, ProjectAction, ProjectState,
    ReportAction, ReportState, holds_certificate, next_project_state, next_report_state)
from tanhui_verification.domain.rules import (
    Period, RuleViolation, add_years, check_buffer_pct, check_crediting_start,
    check_crediting_years, check_period, check_verified_quantity, claim_tco2e, crediting_end,
    first_overlap)

P, A = ProjectState, ProjectAction
ALLOWED_PROJECT = [
    (P.DRAFT, A.SUBMIT, P.SUBMITTED),
    (P.CHANGES_REQUESTED, A.SUBMIT, P.SUBMITTED),
    (P.SUBMITTED, A.APPROVE, P.REGISTERED),
    (P.SUBMITTED, A.REJECT, P.REJECTED),
    (P.SUBMITTED, A.REQUEST_CHANGES, P.CHANGES_REQUESTED),
    # issue 14: the developer edits its filing while it is its own to change, and withdraws it
    # at any point before a decision
    (P.DRAFT, A.EDIT, P.DRAFT),
    (P.CHANGES_REQUESTED, A.EDIT, P.CHANGES_REQUESTED),
    (P.DRAFT, A.WITHDRAW, P.WITHDRAWN),
    (P.SUBMITTED, A.WITHDRAW, P.WITHDRAWN),
    (P.CHANGES_REQUESTED, A.WITHDRAW, P.WITHDRAWN),
]
FORBIDDEN_PROJECT = [(s, a) for s, a in itertools.product(P, A)
                     if (s, a) not in {(s2, a2) for s2, a2, _ in ALLOWED_PROJECT}]

R, RA = ReportState, ReportAction
ALLOWED_REPORT = [
    (R.SUBMITTED, RA.VERIFY, R.VERIFIED),
    (R.SUBMITTED, RA.REJECT, R.REJECTED),
    (R.VERIFIED, RA.ISSUE, R.ISSUED),
]
FORBIDDEN_REPORT = [(s, a) for s, a in itertools.product(R, RA)
                    if (s, a) not in {(s2, a2) for s2, a2, _ in ALLOWED_REPORT}]


def test_the_tables_are_exactly_the_documented_transitions():
    assert PROJECT_TRANSITIONS == {(s, a): t for s, a, t in ALLOWED_PROJECT}
    assert REPORT_TRANSITIONS == {(s, a): t for s, a, t in ALLOWED_REPORT}
    assert len(FORBIDDEN_PROJECT) == 6 * 6 - 10 and len(FORBIDDEN_REPORT) == 4 * 3 - 3


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED_PROJECT)
def test_allowed_project_transition(state, action, after):
    assert next_project_state(state, action) is after
    assert next_project_state(str(state), str(action)) is after  # as stored in the database


@pytest.mark.parametrize(("state", "action"), FORBIDDEN_PROJECT)
def test_forbidden_project_transition_names_the_state(state, action):
    with pytest.raises(IllegalTransition) as caught:
        next_project_state(state, action)
    assert caught.value.state == state.value and caught.value.action == action.value


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED_REPORT)
def test_allowed_report_transition(state, action, after):
    assert next_report_state(state, action) is after


@pytest.mark.parametrize(("state", "action"), FORBIDDEN_REPORT)
def test_forbidden_report_transition_names_the_state(state, action):
    with pytest.raises(IllegalTransition) as caught:
        next_report_state(state, action)
    assert caught.value.state == state.value


def test_only_a_rejected_or_withdrawn_project_frees_its_certificate():
    assert [s for s in P if not holds_certificate(s)] == [P.REJECTED, P.WITHDRAWN]


# CCER-14-001-V01: a crediting period of at least 20 and at most 40 years (issue 13; it was 20-60)
@pytest.mark.parametrize(("kind", "years", "ok"), [
    ("afforestation", 19, False), ("afforestation", 20, True), ("afforestation", 40, True),
    ("afforestation", 41, False), ("afforestation", 60, False),
])
def test_crediting_period_ranges_per_kind(kind, years, ok):
    if ok:
        check_crediting_years(kind, years)
    else:
        with pytest.raises(RuleViolation) as caught:
            check_crediting_years(kind, years)
        assert caught.value.field == "crediting_years"


def test_forest_management_has_no_current_methodology():
    with pytest.raises(RuleViolation) as caught:
        check_crediting_years("forest_management", 30)
    assert caught.value.field == "kind"


@pytest.mark.parametrize(("pct", "ok"), [("9.99", False), ("10", True), ("17.5", True),
                                         ("30.00", True), ("30.01", False), (None, False)])
def test_buffer_pct_range(pct, ok):
    value = Decimal(pct) if pct is not None else None
    if ok:
        assert check_buffer_pct(value) == value
    else:
        with pytest.raises(RuleViolation, match="buffer_pct"):
            check_buffer_pct(value)


def test_claim_is_sink_minus_baseline_minus_leakage_and_must_not_be_zero():
    assert claim_tco2e(Decimal("5200.5"), Decimal("800.25"), Decimal("100")) == Decimal("4300.25")
    # a negative net is a reversal (issue 13): 100 - 90 - 10.0001 = -0.0001
    assert claim_tco2e(Decimal("100"), Decimal("90"), Decimal("10.0001")) == Decimal("-0.0001")
    for sink, baseline, leakage in [("100", "100", "0"), ("100", "90", "10"), ("0", "0", "0")]:
        with pytest.raises(RuleViolation) as caught:
            claim_tco2e(Decimal(sink), Decimal(baseline), Decimal(leakage))
        assert caught.value.field == "project_sink_tco2e"


def test_crediting_window_is_half_open_and_leap_days_land_on_28_february():
    assert crediting_end(date(2021, 1, 1), 30) == date(2051, 1, 1)
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    check_period(Period(date(2021, 1, 1), date(2050, 12, 31)), date(2021, 1, 1), 30)
    cases = [(Period(date(2020, 12, 31), date(2021, 6, 30)), "period_start"),
             (Period(date(2050, 1, 1), date(2051, 1, 1)), "period_end"),
             (Period(date(2022, 1, 1), date(2022, 1, 1)), "period_end"),
             (Period(date(2022, 6, 1), date(2022, 1, 1)), "period_end")]
    for period, field in cases:
        with pytest.raises(RuleViolation) as caught:
            check_period(period, date(2021, 1, 1), 30)
        assert caught.value.field == field


def test_periods_overlap_when_they_share_a_day():
    year_2022 = Period(date(2022, 1, 1), date(2022, 12, 31))
    assert first_overlap(Period(date(2023, 1, 1), date(2023, 12, 31)), [year_2022]) is None
    assert first_overlap(Period(date(2022, 12, 31), date(2023, 6, 30)), [year_2022]) == year_2022
    assert first_overlap(Period(date(2022, 3, 1), date(2022, 4, 1)), [year_2022]) == year_2022
    assert first_overlap(Period(date(2021, 1, 1), date(2023, 1, 1)), [year_2022]) == year_2022


def test_verified_quantity_is_positive_and_at_most_the_claim():
    claim = Decimal("4300.25")
    assert check_verified_quantity(Decimal("4300.25"), claim) == claim
    for bad in [Decimal("0"), Decimal("4300.2501"), None]:
        with pytest.raises(RuleViolation, match="verified_tco2e"):
            check_verified_quantity(bad, claim)


def test_the_crediting_start_is_bounded_and_no_date_arithmetic_overflows():
    check_crediting_start(date(1990, 1, 1))
    check_crediting_start(date(2100, 12, 31))
    for start in [date(1989, 12, 31), date(2101, 1, 1), date(9980, 1, 1)]:
        with pytest.raises(RuleViolation) as caught:
            check_crediting_start(start)
        assert caught.value.field == "crediting_start"
    assert crediting_end(date(2100, 12, 31), 100) == date(2200, 12, 31)  # the widest window
    assert add_years(date(9998, 2, 28), 1) == date(9999, 2, 28)
    with pytest.raises(OverflowError):
        add_years(date(9999, 1, 1), 1)
    with pytest.raises(RuleViolation) as caught:  # past the bound, still a 422, never a 500
        crediting_end(date(9980, 1, 1), 30)
    assert caught.value.field == "crediting_start" and caught.value.status == 422


def test_domain_errors_carry_their_status():
    with pytest.raises(IllegalTransition) as caught:
        next_report_state(R.ISSUED, RA.VERIFY)
    assert caught.value.status == 409 and caught.value.field == "state"
    assert caught.value.extensions == {"state": "issued"}
