"""Trips are credited only inside the claim window (issue 12, item 4): not in the future (beyond
the clock skew), not older than the window, for citizens' own trips and transit feeds alike.

The attacks: a transit operator fed trips dated 1980 or 1990 (a 10,000-trip batch paid 260,000
points) and a citizen's own trip dated year 1 was accepted.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts_support import CITY_DAY, PROBLEM, ride, scalar
from tanhui_accounts.domain.travel import RULES, ClaimWindow, Mode, TravelRules
from tanhui_accounts.domain.trip_batch import TripClaim, within_claim_window
from tanhui_accounts.store.trips import record_trips
from tanhui_shared.uow import in_unit_of_work

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WINDOW = RULES.claim_window
OLD = ["0001-01-01T12:00:00Z", "1980-05-01T08:00:00+08:00", "1990-07-15T18:30:00+08:00",
       "2019-12-31T23:00:00+08:00"]


def span(start: datetime, minutes: int = 20) -> tuple[datetime, datetime]:
    return start, start + timedelta(minutes=minutes)


# --- the rule, with `now` given -----------------------------------------------------------------

def test_the_window_is_seven_days_back_and_the_clock_skew_ahead():
    assert (WINDOW.max_age, WINDOW.clock_skew) == (timedelta(days=7), timedelta(minutes=5))
    assert WINDOW.refusal(*span(NOW - timedelta(days=7) + timedelta(seconds=1)), NOW) is None
    assert WINDOW.refusal(*span(NOW - timedelta(minutes=30)), NOW) is None
    assert WINDOW.refusal(NOW - timedelta(minutes=10), NOW + timedelta(minutes=5), NOW) is None
    too_old = WINDOW.refusal(*span(NOW - timedelta(days=7, seconds=1)), NOW)
    assert too_old.field == "started_at" and "more than 7 days ago" in too_old
    ends_later = WINDOW.refusal(NOW - timedelta(minutes=10), NOW + timedelta(minutes=6), NOW)
    assert ends_later.field == "ended_at" and "future" in ends_later
    starts_later = WINDOW.refusal(*span(NOW + timedelta(minutes=6)), NOW)
    assert starts_later.field == "started_at" and "future" in starts_later
    for moment in OLD:
        start = datetime.fromisoformat(moment)
        assert WINDOW.refusal(*span(start), NOW).field == "started_at", moment


def test_the_window_is_configurable_within_bounds():
    month = ClaimWindow(max_age=timedelta(days=30))
    assert month.refusal(*span(NOW - timedelta(days=20)), NOW) is None
    assert "more than 30 days ago" in month.refusal(*span(NOW - timedelta(days=31)), NOW)
    assert "more than 12 hours ago" in ClaimWindow(max_age=timedelta(hours=12)).refusal(
        *span(NOW - timedelta(days=1)), NOW)
    for bad in ({"max_age": timedelta(0)}, {"max_age": timedelta(days=367)},
                {"clock_skew": timedelta(hours=2)}, {"clock_skew": -timedelta(seconds=1)}):
        with pytest.raises(ValueError):
            ClaimWindow(**bad)


def test_a_batch_is_split_into_trips_inside_the_window_and_rejections():
    claims = [TripClaim(i, "u1", Mode.METRO, Decimal(8), *span(start), f"x{i}")
              for i, start in enumerate([NOW - timedelta(days=1), datetime(1980, 5, 1, tzinfo=UTC),
                                         NOW + timedelta(hours=1), NOW - timedelta(days=6)])]
    inside, refused = within_claim_window(claims, RULES, NOW)
    assert [c.index for c in inside] == [0, 3]
    assert [(d.claim.index, d.status, d.reason.field) for d in refused] == \
        [(1, "rejected", "started_at"), (2, "rejected", "started_at")]
    # each side of the window alone, and a trip ending past it, among trips inside it
    for stray, field in [(span(NOW - timedelta(days=8)), "started_at"),
                         (span(NOW + timedelta(hours=1)), "started_at"),
                         (span(NOW - timedelta(minutes=10), 30), "ended_at"),
                         (span(NOW + timedelta(hours=1), -90), "started_at")]:
        feed = [*(claims[i]._replace(index=n) for n, i in enumerate((0, 3))),
                TripClaim(2, "u1", Mode.METRO, Decimal(8), *stray, "x2")]
        inside, refused = within_claim_window(feed, RULES, NOW)
        assert [c.index for c in inside] == [0, 1]
        assert [(d.claim.index, d.reason.field) for d in refused] == [(2, field)]
    assert within_claim_window(claims[::3], RULES, NOW) == (claims[::3], [])


# --- through the API and the store, on PostgreSQL ------------------------------------------------

@pytest.fixture(scope="module")
def citizen(accounts):
    return accounts.user("citizen")


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts.user("transit_operator")[1]


def balance(accounts, user_id: str) -> int:
    return scalar(accounts.engine, "SELECT balance FROM points_account WHERE user_id = :u",
                  u=user_id)


def trips_of(accounts, user_id: str) -> int:
    return scalar(accounts.engine, "SELECT count(*) FROM green_trip WHERE user_id = :u",
                  u=user_id)


@pytest.mark.parametrize("started_at", [*OLD, "eight days ago", "tomorrow"])
def test_a_citizens_trip_outside_the_window_is_422_naming_started_at(accounts, citizen,
                                                                     started_at):
    user, headers = citizen
    start = {"eight days ago": datetime.now(UTC) - timedelta(days=8),
             "tomorrow": datetime.now(UTC) + timedelta(days=1)}.get(started_at)
    body = ride(start or datetime.fromisoformat(started_at), mode="bike", km="4")
    before = (balance(accounts, user["id"]), trips_of(accounts, user["id"]))
    reply = accounts.http.post("/api/v1/trips", headers=headers, json=body)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == PROBLEM
    assert reply.json()["field"] == "started_at" and reply.json()["code"] == "trip-not-credited"
    assert (balance(accounts, user["id"]), trips_of(accounts, user["id"])) == before


def test_a_citizens_trip_longer_than_12_hours_is_422_naming_ended_at(accounts, citizen):
    user, headers = citizen
    before = (balance(accounts, user["id"]), trips_of(accounts, user["id"]))
    start = datetime.now(UTC) - timedelta(days=2)
    longest = accounts.http.post("/api/v1/trips", headers=headers,
                                 json=ride(start, minutes=12 * 60, mode="walk", km="2"))
    assert longest.status_code == 201, longest.text
    longer = accounts.http.post("/api/v1/trips", headers=headers,
                                json=ride(start - timedelta(days=1), minutes=12 * 60 + 1,
                                          mode="walk", km="2"))
    assert longer.status_code == 422, longer.text
    assert longer.json()["field"] == "ended_at" and "12 hours" in longer.json()["detail"]
    assert trips_of(accounts, user["id"]) == before[1] + 1


def test_a_trip_that_has_not_ended_yet_is_422_naming_ended_at(accounts, citizen):
    _, headers = citizen
    body = ride(datetime.now(UTC) - timedelta(minutes=10), minutes=30, mode="bike", km="4")
    reply = accounts.http.post("/api/v1/trips", headers=headers, json=body)
    assert reply.status_code == 422 and reply.json()["field"] == "ended_at", reply.text


def test_a_citizens_trip_inside_the_window_is_credited(accounts, citizen):
    user, headers = citizen
    six_days = ride(datetime.now(UTC) - timedelta(days=6, hours=1), mode="bike", km="4")
    just_now = ride(datetime.now(UTC) - timedelta(minutes=21), minutes=20, mode="bike", km="4")
    for body in (six_days, just_now):
        reply = accounts.http.post("/api/v1/trips", headers=headers, json=body)
        assert reply.status_code == 201 and reply.json()["points"] > 0, reply.text


def test_an_operators_old_and_future_records_are_each_rejected_and_pay_nothing(accounts,
                                                                                operator):
    rider, _ = accounts.user("citizen")
    now = datetime.now(UTC)
    # the attack's feed: card records dated 1980 and 1990 (and year 1), then a week-old one and
    # one from tomorrow, beside one real ride from three days ago
    stale = [datetime.fromisoformat(m) for m in OLD]
    starts = [*stale, now - timedelta(days=8), now + timedelta(days=1), CITY_DAY]
    records = [{**ride(s, mode="metro", km="8"), "username": rider["username"]} for s in starts]
    reply = accounts.http.post("/api/v1/trips/batch", headers=operator, json={"trips": records})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    assert [r["index"] for r in body["rejected"]] == list(range(len(starts) - 1))
    assert all("started_at" in r["reason"] for r in body["rejected"]), body["rejected"]
    assert body["points_awarded"] == balance(accounts, rider["id"]) == 37
    assert trips_of(accounts, rider["id"]) == 1


def test_a_10000_record_feed_dated_1980_and_1990_pays_no_points(accounts, operator):
    riders = [accounts.user("citizen")[0] for _ in range(2)]
    records = [{**ride(datetime(1980 + 10 * (n % 2), 3, 1, tzinfo=UTC) + timedelta(hours=n),
                       mode="bus", km="10"), "username": riders[n % 2]["username"]}
               for n in range(10_000)]
    reply = accounts.http.post("/api/v1/trips/batch", headers=operator, json={"trips": records})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["accepted"], body["points_awarded"], len(body["rejected"])) == (0, 0, 10_000)
    assert [balance(accounts, r["id"]) for r in riders] == [0, 0]


def test_the_store_judges_the_window_it_is_given(accounts):
    """The window is a rule figure: a wider one lets a 20-day-old trip in through the same path
    single trips and feeds take."""
    rider, _ = accounts.user("citizen")
    start = datetime.now(UTC) - timedelta(days=20)

    def record(rules: TravelRules):
        claim = TripClaim(0, rider["id"], Mode.BUS, Decimal(5), *span(start), uuid.uuid4().hex)
        return in_unit_of_work(accounts.engine,
                               lambda uow: record_trips(uow.session, [claim], rider["id"], rules))

    (refused, trip_id), = record(RULES)
    assert (refused.status, trip_id, refused.reason.field) == ("rejected", None, "started_at")
    wider = TravelRules(claim_window=ClaimWindow(max_age=timedelta(days=30)))
    (accepted, trip_id), = record(wider)
    assert accepted.status == "accepted" and trip_id is not None
    assert trips_of(accounts, rider["id"]) == 1
