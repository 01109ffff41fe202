"""Where a spread retirement's PostgreSQL CPU goes, statement by statement (issue 15): the serving
backend's on-CPU time (/proc/<pid>/schedstat, nanoseconds) before and after each statement
sent by COUNT 1-credit retirements on one thread, summed by the statement's first words.

Run: `uv run python bench/statement_cpu.py [--count N] [--without NAME,...]`; --without
drops these constraints or indexes (or disables these triggers) of serial_block after seeding, to measure
what each costs: an experiment on a throwaway database, never a configuration.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time

import sqlalchemy as sa

from tanhui_credits.events.handlers import HANDLERS, TOPICS
from tanhui_credits.usecases.retirements import retire_credits
from tanhui_shared.db import make_engine
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.uow import in_unit_of_work

sys.path.insert(0, str(REPO_ROOT / "bench"))
import retirements as bench  # noqa: E402
from common import fresh_database, provide_infrastructure  # noqa: E402


def on_cpu(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--without", default="", help="constraints, indexes or triggers of serial_block")
    args = parser.parse_args()
    infra = provide_infrastructure()
    url = fresh_database(infra.database_url, "credits")
    engine = make_engine(url, pool_size=4)
    runner = ConsumerRunner(group="credits", topics=TOPICS, handlers=HANDLERS, engine=engine,
                            dlq_topic="unused", max_attempts=1)
    holders, _, _ = bench.seed(engine, runner, (2 * args.count) // bench.PER_RUN + 2)
    ids = [holder.id for holder in holders]
    with engine.begin() as conn:
        for name in filter(None, args.without.split(",")):
            kind = conn.execute(sa.text(
                "SELECT CASE WHEN EXISTS (SELECT FROM pg_trigger WHERE tgname = :n) THEN 'trigger'"
                " WHEN EXISTS (SELECT FROM pg_constraint WHERE conname = :n) THEN 'constraint'"
                " ELSE 'index' END"), {"n": name}).scalar_one()
            conn.execute(sa.text({"trigger": f"ALTER TABLE serial_block DISABLE TRIGGER {name}",
                                  "constraint": f"ALTER TABLE serial_block DROP CONSTRAINT {name}",
                                  "index": f"DROP INDEX {name}"}[kind]))
    spent: collections.Counter[str] = collections.Counter()
    counted = [False]

    @sa.event.listens_for(engine, "connect")
    def _pid(dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["pid"] = dbapi_connection.info.backend_pid

    def pid_of(conn) -> int:  # noqa: ANN001
        return conn.connection._connection_record.info.get("pid") or \
            conn.connection.dbapi_connection.info.backend_pid

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, *_) -> None:  # noqa: ANN001
        conn.info["cpu_before"] = on_cpu(pid_of(conn))

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, *_) -> None:  # noqa: ANN001
        if counted[0]:
            words = " ".join(statement.split()[:4])[:40]
            spent[words] += on_cpu(pid_of(conn)) - conn.info["cpu_before"]

    for event in ("begin", "commit"):
        def _mark(conn, event=event) -> None:  # noqa: ANN001
            conn.info[f"{event}_cpu"] = on_cpu(pid_of(conn))
        sa.event.listen(engine, event, _mark)

    def run(n: int) -> None:
        for i in range(n):
            in_unit_of_work(engine, lambda uow, i=i: retire_credits(
                uow, ids[i % len(ids)], 1, beneficiary="bench", purpose="benchmark"))

    run(50)
    with engine.connect() as conn:
        pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND backend_type = 'client backend'")).scalars().all()
    before = {pid: on_cpu(pid) for pid in pids}
    counted[0] = True
    started, py = time.perf_counter(), time.process_time()
    run(args.count)
    wall, py = time.perf_counter() - started, time.process_time() - py
    total = sum(on_cpu(pid) - cpu for pid, cpu in before.items())
    n = args.count
    print(f"{n} retirements, one thread: {n / wall:,.0f}/s; Python {py / n * 1e3:.2f} ms, "
          f"PostgreSQL {total / n / 1e6:.2f} ms per retirement, of which by statement:")
    for words, ns in spent.most_common():
        print(f"  {ns / n / 1e6:6.3f} ms  {words}")
    print(f"  {(total - sum(spent.values())) / n / 1e6:6.3f} ms  the rest (BEGIN, COMMIT, "
          "connection handling)")


if __name__ == "__main__":
    main()
