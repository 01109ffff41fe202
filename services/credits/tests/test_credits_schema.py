"""One schema source: a freshly migrated database is exactly what the table models declare."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tanhui_credits.store.schema import METADATA
from tanhui_shared.db import make_engine, migrate
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.schema import catalogue, catalogue_differences, schema_differences

@pytest.fixture(scope="module")
def migrated(migrated_database) -> str:
    return migrated_database("credits")


def test_migrated_database_matches_the_models(migrated):
    assert schema_differences(migrated, METADATA) == []


def test_constraints_and_indexes_are_the_ones_the_models_declare(migrated, new_database):
    assert catalogue_differences(migrated, new_database("credits_models"), METADATA) == (set(), set())
    names = {name for _, name, _, _ in catalogue(migrated)}
    assert {"ex_block_live_serials", "ck_listing_remaining", "ck_listing_open",
            "uq_issuance_monitoring_report", "ck_retirement_quantity"} <= names


# the hot path's functions (the triggers' functions are copies with other whitespace)
_FUNCTIONS = sa.text("SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                     "WHERE p.pronamespace = 'public'::regnamespace "
                     "AND p.proname IN ('audit_chain_pending', 'lock_spendable_blocks', "
                     "'hot_listing_sale', 'spread_retirement', 'spread_retirement_block', "
                     "'spread_retirement_range')")


def _functions(url: str) -> set[tuple[str, str]]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return {tuple(row) for row in conn.execute(_FUNCTIONS)}
    finally:
        engine.dispose()


def test_the_registry_functions_are_the_ones_the_models_create(migrated, new_database):
    """The migration's frozen copies of the hot path's PL/pgSQL functions are what a database
    built from the models gets, definitions and all."""
    built = new_database("credits_functions")
    engine = make_engine(built, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            for each in [METADATA] if isinstance(METADATA, sa.MetaData) else METADATA:
                each.create_all(conn)
    finally:
        engine.dispose()
    migrated_functions = _functions(migrated)
    assert migrated_functions == _functions(built)
    assert {n for n, _ in migrated_functions} == {
        "audit_chain_pending", "lock_spendable_blocks", "hot_listing_sale", "spread_retirement",
        "spread_retirement_block", "spread_retirement_range"}


def test_listing_lanes_migration_goes_down_and_up_again(new_database):
    """0017_listing_lanes replaces hot_listing_sale; down, it is revision 0015's again."""
    url = new_database("credits_lanes")
    config = _migrations_config(url)

    def sale() -> str:
        return dict(_functions(url))["hot_listing_sale"]

    assert "SKIP LOCKED" in sale()
    command.downgrade(config, "0015_hot_listing_sale")
    assert "SKIP LOCKED" not in sale() and "FOR KEY SHARE" not in sale()
    command.upgrade(config, "head")
    assert "SKIP LOCKED" in sale() and "FOR KEY SHARE" in sale()


def _migrations_config(url: str) -> Config:
    migrations = REPO_ROOT / "services" / "credits" / "migrations"
    migrate(url, migrations)
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def test_spread_retirement_statements_migration_goes_down_and_up_again(new_database):
    """0020_spreadlean_statements replaces spread_retirement; down, it is revision
    0018's again."""
    url = new_database("credits_spread")
    config = _migrations_config(url)

    def retire() -> str:
        return dict(_functions(url))["spread_retirement"]

    assert "RETURN NEXT" in retire() and "RETURN QUERY" not in retire()
    command.downgrade(config, "0019_outbox_notify_while_asleep")
    assert "RETURN QUERY" in retire() and "RETURN NEXT" not in retire()
    command.upgrade(config, "head")
    assert "RETURN NEXT" in retire()


def test_offset_one_call_migration_goes_down_and_up_again(new_database):
    """0021 replaces hot_listing_sale (its answer now a status and whom it paid) and drops its
    copies of spread_retirement's helpers; down, 0017's function and its helpers are back."""
    url = new_database("credits_one_call")
    config = _migrations_config(url)

    def functions() -> dict[str, str]:
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as conn:
                return dict(conn.execute(sa.text(
                    "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                    "WHERE p.pronamespace = 'public'::regnamespace "
                    "AND p.proname LIKE 'hot_listing_sale%'")).all())
        finally:
            engine.dispose()

    assert set(functions()) == {"hot_listing_sale"}
    assert "o_status" in functions()["hot_listing_sale"]
    command.downgrade(config, "0020_spreadlean_statements")
    found = functions()
    assert set(found) == {"hot_listing_sale", "hot_listing_sale_block", "hot_listing_sale_range"}
    assert "o_status" not in found["hot_listing_sale"] and "SKIP LOCKED" in found["hot_listing_sale"]
    command.upgrade(config, "head")
    assert "o_status" in functions()["hot_listing_sale"]


def test_listing_stock_migration_goes_down_and_up_again(new_database):
    """0023 moves a listing's remaining and status to listing_stock, rows and constraints; down,
    they are the listing's columns again, with what each listing had left."""
    url = new_database("credits_stock")
    config = _migrations_config(url)
    engine = make_engine(url, pool_size=1)

    def run(statement: str) -> list[tuple]:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement))
            return [tuple(row) for row in result.all()] if result.returns_rows else []

    try:
        command.downgrade(config, "0022_account_lock_no_key_update")
        assert "listing_stock" not in dict(_functions(url))["hot_listing_sale"]
        run("INSERT INTO listing (id, seller_account_id, seller_user_id, quantity, remaining, "
            "price_per_tonne, status, created_at) VALUES "
            "('l1', 'a', 'u', 10, 4, 5, 'open', now()), "
            "('l2', 'a', 'u', 3, 0, 5, 'sold_out', now())")
        command.upgrade(config, "head")
        assert "listing_stock" in dict(_functions(url))["hot_listing_sale"]
        assert run("SELECT listing_id, quantity, remaining, status FROM listing_stock "
                   "ORDER BY listing_id") == [("l1", 10, 4, "open"), ("l2", 3, 0, "sold_out")]
        with pytest.raises(sa.exc.IntegrityError, match="ck_listing_remaining"):
            run("UPDATE listing_stock SET remaining = 11 WHERE listing_id = 'l1'")
        run("UPDATE listing_stock SET remaining = 2 WHERE listing_id = 'l1'")
        command.downgrade(config, "0022_account_lock_no_key_update")
        assert run("SELECT id, remaining, status FROM listing ORDER BY id") == [
            ("l1", 2, "open"), ("l2", 0, "sold_out")]
        with pytest.raises(sa.exc.IntegrityError, match="ck_listing_open"):
            run("UPDATE listing SET remaining = 0 WHERE id = 'l1'")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
