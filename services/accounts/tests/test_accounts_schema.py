"""One schema source: a freshly migrated accounts database is exactly what the table models
declare, check constraints included, and revision 0003 moves existing data across."""
from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tanhui_accounts.domain.travel import RULES, Mode
from tanhui_accounts.store.schema import METADATA
from tanhui_accounts.store.tables import new_ordered_ids
from tanhui_shared.db import make_engine
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.schema import catalogue, catalogue_differences, schema_differences

MIGRATIONS = REPO_ROOT / "services" / "accounts" / "migrations"

def alembic(url: str, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    action(config, revision)


def test_a_migrated_database_is_what_the_models_declare(migrated_database, new_database):
    migrated = migrated_database("accounts")
    assert schema_differences(migrated, METADATA) == []
    assert catalogue_differences(migrated, new_database("accounts_models"), METADATA) == (
        set(), set())
    names = {name for _, name, _, _ in catalogue(migrated)}
    assert {"ck_points_account_held_within_balance", "ck_daily_points_within_cap",
            "uq_green_trip_external_id", "uq_carbon_report_current", "uq_enterprise_confirmed_uscc"} <= names


def test_0003_goes_down_and_up_again(migrated_database):
    url = migrated_database("accounts")
    alembic(url, command.downgrade, "0002")
    names = {name for _, name, _, _ in catalogue(url)}
    assert "points_never_negative" in names and "ck_daily_points_within_cap" not in names
    alembic(url, command.upgrade, "head")
    assert schema_differences(url, METADATA) == []


def test_0003_fills_each_days_cap_rows_from_the_trips_already_recorded(new_database):
    url = new_database("accounts_0002")
    alembic(url, command.upgrade, "0002")
    engine = make_engine(url, pool_size=1)
    trip = ("INSERT INTO green_trip VALUES (:id, 'u1', :mode, 1, now(), now(), :day, :id, 'u1', "
            "1, :points, NULL, now())")
    with engine.begin() as conn:
        for n, (mode, day, points) in enumerate([("metro", 1, 300), ("metro", 1, 300),
                                                 ("bus", 1, 40), ("bus", 2, 100), ("walk", 2, 0)]):
            conn.execute(sa.text(trip), {"id": f"t{n}", "mode": mode, "day": date(2025, 5, day),
                                         "points": points})
    alembic(url, command.upgrade, "head")
    with engine.connect() as conn:
        rows = {(r.local_day.day, r.cap_group): (r.earned, r.cap) for r in conn.execute(
            sa.text("SELECT local_day, cap_group, earned, cap FROM daily_points"))}
    engine.dispose()
    assert rows == {
        # a day past its cap before the cap was enforced keeps what it earned as its cap
        (1, "metro"): (600, 600), (1, "bus"): (40, RULES.mode_cap(Mode.BUS)),
        (1, "all"): (640, RULES.daily_cap_total),
        (2, "bus"): (100, RULES.mode_cap(Mode.BUS)), (2, "all"): (100, RULES.daily_cap_total),
    }


def test_0016_stops_at_a_recorded_trip_longer_than_12_hours_and_says_what_to_do(new_database):
    url = new_database("accounts_0015")
    alembic(url, command.upgrade, "0015_points_account_fillfactor")
    engine = make_engine(url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO green_trip (id, user_id, mode, distance_km, started_at, ended_at, "
            "local_day, external_id, recorded_by, reduction_g, points, capped_by, created_at) "
            "VALUES ('t1', 'u1', 'walk', 30, '2025-05-01 06:00Z', '2025-05-02 16:00Z', "
            "'2025-05-01', 'w1', 'u1', 1, 0, NULL, now())"))
    with pytest.raises(RuntimeError, match="1 recorded trips last longer than 12 hours.*SELECT"):
        alembic(url, command.upgrade, "head")
    with engine.begin() as conn:  # settled: its end corrected
        conn.execute(sa.text("UPDATE green_trip SET ended_at = '2025-05-01 15:00Z'"))
    alembic(url, command.upgrade, "head")
    engine.dispose()
    assert schema_differences(url, METADATA) == []


def test_trip_ids_are_version_7_uuids_in_the_order_made():
    ids = new_ordered_ids(20_000)  # past the 14 counter bits kept in rand_b
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert [str(u) for u in parsed] == ids  # the canonical text form, as new_id's
