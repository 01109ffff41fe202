"""Credit retirements per second on PostgreSQL (issue 5's benchmark), three ways in one run:

1. spread: 8 threads, each retiring 1 credit at a time from holders of its own (no shared
   account or listing; what they share is the registry's hash-chained audit log);
2. hot listing: 8 threads, each buying 1-credit offsets for large events from one listing
   (each purchase carves one of the listing's lanes, and queues for the listing's row only
   from taking its remaining down to the end of its commit);
3. raw: 8 threads decrementing one PostgreSQL row in a loop (`UPDATE ... SET n = n - 1`),
   the floor for anything that serialises on a single row.

Each path runs in one process (8 threads: Python's one interpreter lock, as one API instance
has), and again in two processes of 4 threads each (as two instances of the credits API would
be), taking turns round by round so that a load change on the shared machine hits every path
alike. The statements each movement sends (its own and the audit sequencer's) are counted.

Run: `make bench` (or `uv run python bench/retirements.py`).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
import threading
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
from common import RESULTS, fresh_database, machine, progress, provide_infrastructure, summary  # noqa: E402

THREADS = 8
PROCESSES = 2  # the second variant: two processes of THREADS // PROCESSES threads
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


def in_threads(work, threads: int = THREADS, first: int = 0) -> float:
    """Run `work(thread_index, count)` on `threads` threads (indexes from `first`), each doing
    its share of PER_RUN operations; returns operations per second."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda t: work(first + t, PER_RUN // THREADS), range(threads)))
    return PER_RUN // THREADS * threads / (time.perf_counter() - started)


RAW = sa.text("UPDATE bench_counter SET n = n - 1 WHERE id = 1 AND n > 0")


def paths(engine, holder_ids: list[str], buyer_id: str, event_id: str) -> dict:
    """The three measured paths, as `work(thread_index, count)`; raw does ten times `count`."""
    def spread(thread: int, count: int) -> None:
        for i in range(count):
            in_unit_of_work(engine, lambda uow, i=i: retire_credits(
                uow, holder_ids[2 * thread + i % 2], 1, beneficiary="bench", purpose="benchmark"))

    def hot(thread: int, count: int) -> None:
        for _ in range(count):
            in_unit_of_work(engine, lambda uow: offset_event(uow, buyer_id, event_id, 1))

    raw_engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def raw(thread: int, count: int) -> None:
        with raw_engine.connect() as conn:
            for _ in range(count * 10):  # ten times as many: each is far quicker
                conn.execute(RAW)

    return {"spread": spread, "hot": hot, "raw": raw}


def worker(pipe, url: str, holder_ids: list[str], buyer_id: str, event_id: str,  # noqa: ANN001
           index: int) -> None:
    """One of the PROCESSES: runs the path it is sent on its share of the threads."""
    threads = THREADS // PROCESSES
    engine = make_engine(url, pool_size=threads + 2)
    work = paths(engine, holder_ids, buyer_id, event_id)
    pipe.send("ready")
    while (path := pipe.recv()) is not None:
        in_threads(work[path], threads, first=index * threads)
        pipe.send("done")
    engine.dispose()


class Processes:
    """PROCESSES worker processes (spawned: no inherited connections), started once."""

    def __init__(self, url: str, holder_ids: list[str], buyer_id: str, event_id: str) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.pipes, self.procs = [], []
        for index in range(PROCESSES):
            mine, theirs = spawn.Pipe()
            proc = spawn.Process(target=worker, args=(theirs, url, holder_ids, buyer_id,
                                                      event_id, index))
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)
        for pipe in self.pipes:
            assert pipe.recv() == "ready"

    def rate(self, path: str) -> float:
        started = time.perf_counter()
        for pipe in self.pipes:
            pipe.send(path)
        for pipe in self.pipes:
            assert pipe.recv() == "done"
        return PER_RUN // THREADS * THREADS / (time.perf_counter() - started)

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=30)


class Statements:
    """Statements sent on an engine (by every thread), counted while `counting`."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.count, self.mutex = 0, threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_) -> None:
        with self.mutex:
            self.count += 1

    def per_movement(self, measure) -> tuple[float, float]:  # noqa: ANN001
        """(rate, statements per movement) of one run of `measure`."""
        before = self.count
        rate = measure()
        return rate, (self.count - before) / PER_RUN


def main() -> None:
    infra = provide_infrastructure()
    url = fresh_database(infra.database_url, "credits")
    engine = make_engine(url, pool_size=THREADS + 2)
    runner = ConsumerRunner(group="credits", topics=TOPICS, handlers=HANDLERS, engine=engine,
                            dlq_topic="unused", max_attempts=1)
    runs = 5
    holders, event, buyer = seed(engine, runner, 2 * runs)  # one-process and two-process runs
    holder_ids = [holder.id for holder in holders]
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_counter (id int primary key, n bigint not null)"))
        conn.execute(sa.text("INSERT INTO bench_counter VALUES (1, 1000000000)"))
    work = paths(engine, holder_ids, buyer.id, event.id)
    statements = Statements(engine)
    progress(f"starting {PROCESSES} worker processes")
    processes = Processes(url, holder_ids, buyer.id, event.id)
    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    rates: dict[str, list[float]] = {}
    per_movement: dict[str, list[float]] = {"spread": [], "hot": []}
    try:
        for run in range(runs):
            for path in ("spread", "hot", "raw"):
                scale = 10 if path == "raw" else 1
                rate, sent = statements.per_movement(lambda: in_threads(work[path]) * scale)
                if path in per_movement:
                    per_movement[path].append(sent)
                rates.setdefault(path, []).append(rate)
                rates.setdefault(f"{path}2", []).append(processes.rate(path) * scale)
                progress(f"round {run + 1}/{runs}: {path}: {rate:,.0f}/s in one process, "
                         f"{rates[f'{path}2'][-1]:,.0f}/s in {PROCESSES}")
    finally:
        processes.stop()
    with engine.connect() as conn:
        intact = conn.execute(sa.text("SELECT count(*) FROM retirement")).scalar_one()
    m = {path: statistics.median(values) for path, values in rates.items()}
    report = f"""# Retirement benchmark

Machine: {machine()}; PostgreSQL from {infra.source}. {THREADS} threads, {PER_RUN} operations
per run, {runs} runs per path, in-process use cases (no HTTP), one transaction each. Each path
runs in one process ({THREADS} threads, one interpreter lock: one API instance) and in
{PROCESSES} processes of {THREADS // PROCESSES} threads (two instances), the paths taking turns
round by round. Load average (1 min) at the start and the end of the measurements: {load_before:.1f},
{os.getloadavg()[0]:.1f}.

| path | one process | {PROCESSES} processes |
|---|---|---|
| spread: 1-credit retirements from 16 holders (split, retire, certificate, audit, outbox) | {summary(rates["spread"])} | {summary(rates["spread2"])} |
| hot listing: 1-credit offset purchases from one listing (buy, split, retire, payment) | {summary(rates["hot"])} | {summary(rates["hot2"])} |
| raw single-row `UPDATE` loop (the floor for one hot row) | {summary(rates["raw"])} | {summary(rates["raw2"])} |

Ratios in the same run, one process: spread / raw = {m["spread"] / m["raw"]:.3f};
hot listing / raw = {m["hot"] / m["raw"]:.3f};
hot listing / spread = {m["hot"] / m["spread"]:.2f}.
{PROCESSES} processes, to the one-process raw floor: spread / raw = {m["spread2"] / m["raw"]:.3f};
hot listing / raw = {m["hot2"] / m["raw"]:.3f}; to the {PROCESSES}-process raw loop: spread = {m["spread2"] / m["raw2"]:.3f}, hot listing = {m["hot2"] / m["raw2"]:.3f}.
Statements sent per movement (one process; its own, and the audit sequencer's passes, which
coalesce under load): spread {statistics.median(per_movement["spread"]):.1f},
hot listing {statistics.median(per_movement["hot"]):.1f}.
Retirements recorded: {intact:,}.
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "retirements.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
