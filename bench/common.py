"""What every benchmark shares: infrastructure, fresh databases, timing statistics, reporting."""
from __future__ import annotations

import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from tanhui_shared.db import make_engine, migrate
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.infra import provide_infrastructure

RESULTS = Path(__file__).parent / "results"


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fresh_database(server_url: str, service: str) -> str:
    url = sa.engine.make_url(server_url)
    name = f"bench_{service}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    target = url.set(database=name).render_as_string(hide_password=False)
    migrate(target, REPO_ROOT / "services" / service / "migrations")
    return target


def repeat(label: str, runs: int, measure: Callable[[int], float]) -> list[float]:
    """Call `measure(run)` `runs` times; each returns a rate. Shows progress."""
    rates = []
    for run in range(runs):
        started = time.perf_counter()
        rates.append(measure(run))
        progress(f"{label}: run {run + 1}/{runs}: {rates[-1]:,.0f}/s ({time.perf_counter() - started:.1f}s)")
    return rates


def summary(rates: list[float]) -> str:
    return (f"{statistics.median(rates):,.0f}/s (median of {len(rates)}; "
            f"spread {min(rates):,.0f}-{max(rates):,.0f})")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


__all__ = ["RESULTS", "fresh_database", "machine", "percentile", "progress", "provide_infrastructure",
           "repeat", "summary"]
