"""The schema itself refuses what the ledger and the registers must never hold: raw SQL, past
every lock and check of the application, is stopped by the named constraint."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accounts_support import CITY_DAY, grant_points, ride
from tanhui_accounts.domain.points import EntryKind
from tanhui_accounts.domain.travel import RULES, Mode
from tanhui_accounts.store.constraints import ACCOUNTS_CONSTRAINTS
from tanhui_accounts.store.points import post_entry
from tanhui_accounts.store.schema import METADATA
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work
from test_enterprises_api import MIXED, enterprise


def refused_by(engine, sql: str, **params) -> str:
    """Run `sql` in a transaction of its own; the name of the constraint that refused it."""
    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    return refused.value.orig.diag.constraint_name


@pytest.fixture
def citizen(accounts):
    user, headers = accounts.user("citizen")
    grant_points(accounts.engine, user["id"], 300)
    return user, headers


def test_a_balance_below_zero_or_a_hold_beyond_it_is_refused(accounts, citizen):
    user, _ = citizen
    account = "UPDATE points_account SET {} WHERE user_id = :u"
    assert refused_by(accounts.engine, account.format("balance = -1, held = 0"),
                      u=user["id"]) == "ck_points_account_balance_not_negative"
    assert refused_by(accounts.engine, account.format("held = balance + 1"),
                      u=user["id"]) == "ck_points_account_held_within_balance"
    assert refused_by(accounts.engine, account.format("held = -1"),
                      u=user["id"]) == "ck_points_account_held_within_balance"


def test_entries_keep_their_figures_in_range_and_move_points(accounts, citizen):
    user, _ = citizen
    entry = ("INSERT INTO points_entry (user_id, kind, points, balance_after, held_after, "
             "created_at) VALUES (:u, 'earn', :p, :b, :h, now())")
    engine = accounts.engine
    assert refused_by(engine, entry, u=user["id"], p=0, b=10, h=0) == \
        "ck_points_entry_points_positive"
    assert refused_by(engine, entry, u=user["id"], p=5, b=-5, h=0) == \
        "ck_points_entry_balance_after_not_negative"
    assert refused_by(engine, entry, u=user["id"], p=5, b=5, h=6) == \
        "ck_points_entry_held_after_within_balance"


def test_an_increment_past_the_hold_is_refused_even_without_the_lock(accounts, citizen):
    """The path a forgotten lock takes: post_entry's increment, checked by the database."""
    user, _ = citizen
    with pytest.raises(Conflict) as refused:
        in_unit_of_work(accounts.engine,
                        lambda uow: post_entry(uow.session, user["id"], EntryKind.HOLD, 301))
    assert refused.value.status == 409 and refused.value.field == "points"
    assert refused.value.extensions["constraint"] == "ck_points_account_held_within_balance"


def test_a_second_trip_with_the_same_external_id_is_refused(accounts, citizen):
    user, headers = citizen
    trip = accounts.http.post("/api/v1/trips", headers=headers, json=ride(CITY_DAY, km="5"))
    assert trip.status_code == 201, trip.text
    copy = ("INSERT INTO green_trip SELECT :new, user_id, mode, distance_km, started_at + "
            "interval '1 hour', ended_at + interval '1 hour', local_day, external_id, recorded_by, "
            "reduction_g, points, capped_by, created_at FROM green_trip WHERE id = :id")
    assert refused_by(accounts.engine, copy, new=str(uuid.uuid4()), id=trip.json()["id"]) == \
        "uq_green_trip_external_id"


def test_a_trip_longer_than_the_longest_a_trip_may_last_is_refused(accounts, citizen):
    user, headers = citizen
    trip = accounts.http.post("/api/v1/trips", headers=headers, json=ride(CITY_DAY, km="5"))
    assert trip.status_code == 201, trip.text
    longer = ("UPDATE green_trip SET ended_at = started_at + interval '12 hours 1 second' "
              "WHERE id = :id")
    assert refused_by(accounts.engine, longer, id=trip.json()["id"]) == \
        "ck_green_trip_duration_bounded"


def test_a_days_points_above_its_cap_are_refused(accounts, citizen):
    user, headers = citizen
    for i in range(3):  # 93 points each: 279 of the day's 500 metro points
        reply = accounts.http.post("/api/v1/trips", headers=headers,
                                   json=ride(CITY_DAY + timedelta(hours=i)))
        assert reply.status_code == 201, reply.text
    day = "UPDATE daily_points SET earned = earned + :p WHERE user_id = :u AND cap_group = :g"
    engine = accounts.engine
    room = RULES.mode_cap(Mode.METRO) - 279
    assert refused_by(engine, day, p=room + 1, u=user["id"], g="metro") == \
        "ck_daily_points_within_cap"
    assert refused_by(engine, day, p=RULES.daily_cap_total, u=user["id"], g="all") == \
        "ck_daily_points_within_cap"
    insert = ("INSERT INTO daily_points (user_id, local_day, cap_group, earned, cap) "
              "VALUES (:u, current_date, 'walk', 201, 200)")
    assert refused_by(engine, insert, u=user["id"]) == "ck_daily_points_within_cap"
    with engine.begin() as conn:  # up to the cap itself is fine
        conn.execute(sa.text(day), {"p": room, "u": user["id"], "g": "metro"})


def test_a_redemption_moves_whole_positive_amounts_and_settles_once(accounts, citizen):
    user, _ = citizen
    redemption = ("INSERT INTO redemption (id, user_id, points, quantity, kg, state, created_at) "
                  "VALUES (:id, :u, :p, :q, :kg, 'pending', now())")
    engine = accounts.engine
    assert refused_by(engine, redemption, id="r0", u=user["id"], p=0, q=1, kg=1000) == \
        "ck_redemption_points_positive"
    assert refused_by(engine, redemption, id="r1", u=user["id"], p=100_000, q=0, kg=1000) == \
        "ck_redemption_quantity_positive"
    # a pooled redemption buys whole 10 kg units
    for kg in (0, 15, -10):
        assert refused_by(engine, redemption, id="r2", u=user["id"], p=1_000, q=None, kg=kg) == \
            "ck_redemption_kg_units"
    entry = ("INSERT INTO points_entry (user_id, kind, points, balance_after, held_after, "
             "redemption_id, created_at) VALUES (:u, :k, 100, 300, 0, 'r9', now())")
    with engine.begin() as conn:
        conn.execute(sa.text(entry), {"u": user["id"], "k": "settle"})
    assert refused_by(engine, entry, u=user["id"], k="settle") == "uq_points_entry_redemption_kind"
    assert refused_by(engine, entry, u=user["id"], k="release") == \
        "uq_points_entry_redemption_outcome"
    with engine.begin() as conn:  # leave the ledger as it was for the other tests
        conn.execute(sa.text("DELETE FROM points_entry WHERE redemption_id = 'r9'"))


def test_one_current_report_per_period(accounts):
    # one confirmed enterprise per code: test_enterprise_claims.py
    _, headers = accounts.user("enterprise")
    firm = enterprise(accounts, headers)
    report = accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                                json={"period": "2017", "activities": MIXED[:1]}).json()
    engine = accounts.engine
    another = ("INSERT INTO carbon_report SELECT :id, enterprise_id, period, :rev, true, NULL, "
               "scope1_tco2e, scope2_tco2e, total_tco2e, filed_by, filed_at FROM carbon_report "
               "WHERE id = :r")
    assert refused_by(engine, another, id=str(uuid.uuid4()), rev=2, r=report["id"]) == \
        "uq_carbon_report_current"
    assert refused_by(engine, another.replace("true", "false"), id=str(uuid.uuid4()), rev=1,
                      r=report["id"]) == "uq_carbon_report_revision"


def test_every_named_constraint_says_what_it_means():
    named = set()
    for metadata in METADATA[:1]:  # accounts' own tables; the shared ones are not ours to name
        for table in metadata.tables.values():
            named |= {c.name for c in table.constraints if not isinstance(
                c, sa.PrimaryKeyConstraint)}
            named |= {i.name for i in table.indexes if i.unique}
    assert named == set(ACCOUNTS_CONSTRAINTS)
