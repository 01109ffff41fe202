"""Credit retirements per second on PostgreSQL (issue 5's benchmark), three ways in one run:

1. spread: 8 threads, each retiring 1 credit at a time from holders of its own (no shared
   account or listing; what they share is the registry's hash-chained audit log);
2. hot listing: 8 threads, each buying 1-credit offsets for large events from one listing
   (every purchase locks that listing's row);
3. raw: 8 threads decrementing one PostgreSQL row in a loop (`UPDATE ... SET n = n - 1`),
   the floor for anything that serialises on a single row.

Run: `make bench` (or `uv run python bench/retirements.py`).
"""
from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from tanhui_credits.events.handlers import HANDLERS, TOPICS
from tanhui_credits.usecases.market import create_listing, offset_event
from tanhui_credits.usecases.retirements import retire_credits
from tanhui_credits.usecases.transfers import transfer_credits
from tanhui_credits.store.market_tables import LargeEvent
from tanhui_shared.contracts import CloudEvent, MonitoringVerified, UserRegistered
from tanhui_shared.db import make_engine
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.uow import in_unit_of_work

sys.path.insert(0, str(REPO_ROOT / "bench"))
from common import RESULTS, fresh_database, machine, progress, provide_infrastructure, repeat, summary  # noqa: E402

THREADS = 8
PER_RUN = 400  # operations per run and path


def deliver(runner: ConsumerRunner, contract) -> None:
    envelope = CloudEvent(type=contract.TYPE, source=contract.SOURCE, data=contract.model_dump(mode="json"))
    assert runner.apply(SimpleNamespace(topic=contract.TOPIC, value=envelope.to_json())) == "applied"


def user(runner, role: str) -> SimpleNamespace:
    person = SimpleNamespace(id=str(uuid.uuid4()), username=f"{role[:5]}-{uuid.uuid4().hex[:8]}")
    deliver(runner, UserRegistered(user_id=person.id, username=person.username, role=role,
                                   subject_kind="organisation"))
    return person



def seed(engine, runner, runs: int):
    progress("issuing credits and spreading them over 16 holders")
    developer = user(runner, "project_developer")
    need = PER_RUN * runs
    deliver(runner, MonitoringVerified(
        issuance_id=str(uuid.uuid4()), project_id="bench-project", project_number=9001,
        project_name="bench forest", project_kind="afforestation", county="顺庆区",
        owner_user_id=developer.id, owner_username=developer.username, monitoring_report_id="mr",
        verification_id="v", verifier_user_id="vv", period_start=date(2025, 1, 1),
        period_end=date(2025, 12, 31), vintage=2025, verified_tco2e=Decimal(need * 3),
        buffer_pct=Decimal(0)))
    holders = [user(runner, "enterprise") for _ in range(2 * THREADS)]
    buyer = user(runner, "organizer")
    event = LargeEvent(organizer_user_id=buyer.id, name="嘉陵江马拉松", start_date=date(2026, 4, 1),
                       end_date=date(2026, 4, 1), venue="南充", attendees=20_000, activity="{}",
                       # offsets name their quantity: the estimate only has to parse
                       estimate=json.dumps({"credits_to_neutralise": need}),
                       total_tco2e=Decimal(need))

    def spread_and_list(uow) -> None:
        for holder in holders:
            transfer_credits(uow, developer.id, holder.username, need // len(holders) + 1)
        create_listing(uow, developer.id, need + 10, Decimal("58.00"))
        uow.session.add(event)

    in_unit_of_work(engine, spread_and_list)
    return holders, event, buyer


def in_threads(work) -> float:
    """Run `work(thread_index, count)` on THREADS threads, PER_RUN operations in all."""
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda t: work(t, PER_RUN // THREADS), range(THREADS)))
    return PER_RUN / (time.perf_counter() - started)


def main() -> None:
    infra = provide_infrastructure()
    url = fresh_database(infra.database_url, "credits")
    engine = make_engine(url, pool_size=THREADS + 2)
    runner = ConsumerRunner(group="credits", topics=TOPICS, handlers=HANDLERS, engine=engine,
                            dlq_topic="unused", max_attempts=1)
    runs = 5
    holders, event, buyer = seed(engine, runner, runs)

    def spread(thread: int, count: int) -> None:
        for i in range(count):
            in_unit_of_work(engine, lambda uow, i=i: retire_credits(
                uow, holders[2 * thread + i % 2].id, 1, beneficiary="bench", purpose="benchmark"))

    def hot(thread: int, count: int) -> None:
        for _ in range(count):
            in_unit_of_work(engine, lambda uow: offset_event(uow, buyer.id, event.id, 1))

    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_counter (id int primary key, n bigint not null)"))
        conn.execute(sa.text("INSERT INTO bench_counter VALUES (1, 1000000000)"))
    raw_engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def raw(thread: int, count: int) -> None:
        with raw_engine.connect() as conn:
            for _ in range(count * 10):  # ten times as many: each is far quicker
                conn.execute(sa.text("UPDATE bench_counter SET n = n - 1 WHERE id = 1 AND n > 0"))

    spread_rates = repeat("spread retirements", runs, lambda r: in_threads(spread))
    hot_rates = repeat("hot-listing offsets", runs, lambda r: in_threads(hot))
    raw_rates = repeat("raw single-row updates", runs, lambda r: in_threads(raw) * 10)
    with engine.connect() as conn:
        intact = conn.execute(sa.text("SELECT count(*) FROM retirement")).scalar_one()
    report = f"""# Retirement benchmark

Machine: {machine()}; PostgreSQL from {infra.source}. {THREADS} threads, {PER_RUN} operations
per run, {runs} runs per path, in-process use cases (no HTTP), one transaction each.

| path | rate |
|---|---|
| spread: 1-credit retirements from 16 holders (split, retire, certificate, audit, outbox) | {summary(spread_rates)} |
| hot listing: 1-credit offset purchases from one listing (buy, split, retire, payment) | {summary(hot_rates)} |
| raw single-row `UPDATE` loop (the floor for one hot row) | {summary(raw_rates)} |

Ratios in the same run: spread / raw = {statistics.median(spread_rates) / statistics.median(raw_rates):.3f};
hot listing / raw = {statistics.median(hot_rates) / statistics.median(raw_rates):.3f};
hot listing / spread = {statistics.median(hot_rates) / statistics.median(spread_rates):.2f}.
Retirements recorded: {intact:,}.
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "retirements.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
