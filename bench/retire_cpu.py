"""CPU per movement, both sides (issue 15): this process's (Python) and the PostgreSQL
backends' serving its database, from /proc (utime + stime), around N 1-credit movements on
THREADS threads; with --profile, the Python side's top functions (cProfile, one thread).
`--path spread` (default): retirements by 16 holders; `--path hot`: offset purchases from one
listing (bench/retirements.py's two paths).

Run: `uv run python bench/retire_cpu.py [--path spread|hot] [--count N] [--threads T]
[--profile]`.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from tanhui_credits.events.handlers import HANDLERS, TOPICS
from tanhui_credits.usecases.market import offset_event
from tanhui_credits.usecases.retirements import retire_credits
from tanhui_shared.db import make_engine
from tanhui_shared.messaging.consumer import ConsumerRunner
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.uow import in_unit_of_work

sys.path.insert(0, str(REPO_ROOT / "bench"))
import retirements as bench  # noqa: E402
from common import fresh_database, progress, provide_infrastructure  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(engine) -> dict[int, float]:  # noqa: ANN001
    """CPU seconds so far of every backend connected to this engine's database."""
    with engine.connect() as conn:
        pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = "
                                    "current_database()")).scalars().all()
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parts = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[pid] = (int(parts[11]) + int(parts[12])) / TICK
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=("spread", "hot"), default="spread")
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    infra = provide_infrastructure()
    url = fresh_database(infra.database_url, "credits")
    engine = make_engine(url, pool_size=args.threads + 2)
    runner = ConsumerRunner(group="credits", topics=TOPICS, handlers=HANDLERS, engine=engine,
                            dlq_topic="unused", max_attempts=1)
    # warm-up, measured run and --profile's run on one thread: each holder's share of all three
    holders, event, buyer = bench.seed(engine, runner, (3 * args.count) // bench.PER_RUN + 2)
    ids = [holder.id for holder in holders]

    per = len(ids) // args.threads  # each thread its own holders (2 each on 8 threads)

    def spread(thread: int) -> None:
        for i in range(args.count // args.threads):
            in_unit_of_work(engine, lambda uow, i=i: retire_credits(
                uow, ids[per * thread + i % per], 1, beneficiary="bench", purpose="benchmark"))

    def hot(thread: int) -> None:
        for _ in range(args.count // args.threads):
            in_unit_of_work(engine, lambda uow: offset_event(uow, buyer.id, event.id, 1))

    work = hot if args.path == "hot" else spread

    with ThreadPoolExecutor(args.threads) as pool:  # warm: every pooled connection opened
        list(pool.map(work, range(args.threads)))
    before_pg, before_py = backend_cpu(engine), time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(work, range(args.threads)))
    wall = time.perf_counter() - started
    py, after_pg = time.process_time() - before_py, backend_cpu(engine)
    pg = sum(cpu - before_pg.get(pid, 0.0) for pid, cpu in after_pg.items())
    n = args.count // args.threads * args.threads
    print(f"{n} {args.path} movements on {args.threads} threads: {n / wall:,.0f}/s; CPU per movement: "
          f"Python {py / n * 1e3:.2f} ms, PostgreSQL {pg / n * 1e3:.2f} ms, total "
          f"{(py + pg) / n * 1e3:.2f} ms; load {os.getloadavg()[0]:.1f}")
    if args.profile:
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        work(0)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    engine.dispose()


if __name__ == "__main__":
    main()
