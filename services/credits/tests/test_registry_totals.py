"""The public registry's totals come from a rollup kept by triggers; after any mix of the real
use cases (the registry state machine's random runs), concurrent writers and an operator's
SQL corrections, they equal the scan of every issuance and block (PostgreSQL)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import invariant, run_state_machine_as_test
from sqlmodel import Session

from tanhui_credits.domain.serials import InsufficientCredits
from tanhui_credits.store.audit import CHAIN_DDL
from tanhui_credits.store.blocks import LOCK_DDL
from tanhui_credits.store.registry import scanned_project_totals
from tanhui_credits.store.spread_retirement import DDL as SPREAD_DDL
from tanhui_credits.store.totals import project_totals
from tanhui_credits.usecases import issue_credits, open_holding_account, retire_credits
from tanhui_shared.contracts import MonitoringVerified
from tanhui_shared.db import make_engine
from tanhui_shared.messaging.outbox import HEADER_COLUMNS_DDL
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.uow import in_unit_of_work
from test_registry_state_machine import Registry


def assert_totals_equal_the_scan(engine) -> None:
    with Session(engine) as session:
        assert project_totals(session) == scanned_project_totals(session)


class RegistryWithTotals(Registry):
    """The state machine's random runs, with the rollup checked after every step."""

    @invariant()
    def totals_equal_the_scan(self) -> None:
        assert_totals_equal_the_scan(self.engine)


def test_totals_equal_the_scan_under_random_use(migrated_database):
    RegistryWithTotals.engine = make_engine(migrated_database("credits"), pool_size=1)
    try:
        run_state_machine_as_test(RegistryWithTotals, settings=settings(
            max_examples=10, stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            phases=[Phase.explicit, Phase.reuse, Phase.generate]))
    finally:
        RegistryWithTotals.engine.dispose()


def verified(n: int, owner: str, project: int, tonnes: int) -> MonitoringVerified:
    return MonitoringVerified(
        issuance_id=f"issuance-{n}", project_id=f"project-{project}", project_number=project,
        project_name=f"forest {project}", project_kind="afforestation", county="Shunqing",
        owner_user_id=owner, owner_username=owner, monitoring_report_id=f"report-{n}",
        verification_id="v", verifier_user_id="verifier", period_start=date(2025, 1, 1),
        period_end=date(2025, 12, 31), vintage=2025, verified_tco2e=Decimal(tonnes),
        buffer_pct=Decimal(10))


def _retire_some(engine, holder: str) -> None:
    for _ in range(5):
        try:
            in_unit_of_work(engine, lambda uow: retire_credits(uow, holder, 3, beneficiary=holder,
                                                               purpose="pledge"))
        except InsufficientCredits:
            return


def test_totals_equal_the_scan_after_concurrent_writers_and_sql_corrections(migrated_database):
    engine = make_engine(migrated_database("credits"), pool_size=8)
    holders = [f"dev-{n}" for n in range(4)]
    for holder in holders:
        in_unit_of_work(engine, lambda uow, h=holder: open_holding_account(
            uow, h, h, "organisation", "seed"))
    # issuances for two projects and retirements, from four threads at once
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: in_unit_of_work(engine, lambda uow: issue_credits(
            uow, verified(n, holders[n % 4], 1 + n % 2, 40), f"event-{n}")), range(8)))
        list(pool.map(lambda h: _retire_some(engine, h), holders))
    assert_totals_equal_the_scan(engine)
    # an operator's corrections by SQL are counted as well
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE serial_block SET account_id = 'system-buffer-pool' "
                             "WHERE id = (SELECT min(id) FROM serial_block WHERE status = 'active')"))
    assert_totals_equal_the_scan(engine)
    engine.dispose()


def test_0011_fills_the_totals_from_the_registry_already_there(new_database):
    url = new_database("credits_0009")
    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "services" / "credits" / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "0010")
    engine = make_engine(url, pool_size=2)
    with engine.begin() as conn:  # today's use cases call the functions a later revision adds
        conn.execute(sa.text(CHAIN_DDL))  # (with CREATE OR REPLACE: that revision still runs)
        conn.execute(sa.text(LOCK_DDL))
        for statement in (*SPREAD_DDL, *HEADER_COLUMNS_DDL):  # and the columns it writes
            conn.execute(sa.text(statement))
    in_unit_of_work(engine, lambda uow: open_holding_account(uow, "dev", "dev", "organisation", "s"))
    for n in range(3):
        in_unit_of_work(engine, lambda uow, n=n: issue_credits(uow, verified(n, "dev", 1, 25), "e"))
    in_unit_of_work(engine, lambda uow: retire_credits(uow, "dev", 7, beneficiary="dev",
                                                       purpose="pledge"))
    command.upgrade(config, "head")
    with Session(engine) as session:
        totals = project_totals(session)
        assert totals == scanned_project_totals(session)
    assert [(t["issued"], t["retired"]) for t in totals] == [(75, 7)]  # 3 x 25 issued, 7 retired
    engine.dispose()
