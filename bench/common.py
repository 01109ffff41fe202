"""What every benchmark shares: infrastructure, fresh databases, timing statistics, reporting."""
from __future__ import annotations

import atexit
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from tanhui_shared.db import make_engine, migrate
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.testing.infra import provide_infrastructure

RESULTS = Path(__file__).parent / "results"
KEY_FILE = REPO_ROOT / "tests" / "keys" / "test-signing-key.pem"  # the tests' token-signing key


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _admin(server_url: str):  # noqa: ANN202
    return make_engine(server_url, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")


def empty_database(server_url: str, label: str) -> str:
    """A new, empty database on the server; returns its URL. It is dropped when this process
    exits (a city is several GiB, and every run makes new ones; a local server kept 194 of them,
    7 GB, before this), unless TANHUI_BENCH_KEEP_DATABASES=1 keeps them to look into."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    if os.environ.get("TANHUI_BENCH_KEEP_DATABASES") != "1":
        # forked workers leave by os._exit, which runs no atexit hook: only the creator drops
        atexit.register(_drop_database, server_url, name)
    progress(f"database {name}")
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, name: str) -> None:
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(server_url: str, service: str) -> str:
    """A new database with `service`'s migrations applied."""
    target = empty_database(server_url, service)
    migrate(target, REPO_ROOT / "services" / service / "migrations")
    return target


def wait_for(url: str, what: str) -> None:
    for _ in range(150):
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start ({url})")


def start_accounts(database_url: str, port: int, **settings: str) -> subprocess.Popen:
    """A real accounts API process (one uvicorn worker), signing with the tests' key;
    `settings` are extra TANHUI_ environment variables."""
    env = {**os.environ, "TANHUI_ENV": "test", "TANHUI_DATABASE_URL": database_url,
           "TANHUI_JWT_PRIVATE_KEY_FILE": str(KEY_FILE), "TANHUI_LOG_LEVEL": "WARNING", **settings}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tanhui_accounts.app:create_app",
                             "--factory", "--port", str(port), "--no-access-log", "--log-level",
                             "warning"], env=env, cwd=REPO_ROOT)
    wait_for(f"http://127.0.0.1:{port}/readyz", "the accounts API")
    return proc


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


__all__ = ["KEY_FILE", "RESULTS", "empty_database", "free_port", "fresh_database", "start_accounts", "wait_for", "machine", "percentile", "progress", "provide_infrastructure",
           "repeat", "summary"]
