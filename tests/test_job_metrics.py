"""The periodic jobs (points expiry, messaging retention) as `make up` and the deployments run
them (`--every`): each serves its metrics port, counts its runs and the rows it changed, and
survives a run that fails (the database away), which it counts and logs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session

from metrics_support import KEY_FILE, free_port, scrape, value, wait_until
from tanhui_shared.db import make_engine
from tanhui_shared.messaging.outbox import OutboxMessage, utcnow
from tanhui_shared.settings import REPO_ROOT

pytestmark = pytest.mark.infra


def _job(argv: list[str], log_path, **env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    full_env = {**os.environ, "TANHUI_ENV": "test", "TANHUI_METRICS_PORT": str(port), **env}
    with open(log_path, "wb") as log:
        popen = subprocess.Popen([sys.executable, "-m", *argv], env=full_env, cwd=REPO_ROOT,
                                 stdout=log, stderr=log)
    return popen, f"http://127.0.0.1:{port}/metrics"


def _scraped(popen: subprocess.Popen, url: str, log_path, until) -> dict:
    seen: dict = {}

    def ready() -> bool:
        assert popen.poll() is None, f"the job exited:\n{log_path.read_text()[-3000:]}"
        try:
            seen.update(scrape(url))
        except httpx.HTTPError:
            return False
        return until(seen)

    wait_until(ready, 60, f"the job's metrics on {url}")
    return seen


def _stop(popen: subprocess.Popen) -> None:
    popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(timeout=15)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def test_the_retention_job_counts_what_it_pruned_and_a_failed_run(migrated_database, tmp_path):
    url = migrated_database("credits")
    engine = make_engine(url, pool_size=1)
    old = utcnow() - timedelta(days=30)
    with Session(engine) as session:
        session.add_all([OutboxMessage(event_id=str(uuid.uuid4()), topic="tanhui.credits.v1",
                                       key="k", envelope="{}", created_at=old, published_at=old)
                         for _ in range(5)])
        session.commit()
    engine.dispose()
    closed = free_port()  # nothing listens there: every run of the second job fails
    jobs = [
        _job(["tanhui_shared.messaging.retention", "credits", "--every", "0.5"],
             tmp_path / "retention.log", TANHUI_CREDITS_DATABASE_URL=url),
        _job(["tanhui_shared.messaging.retention", "credits", "--every", "0.5"],
             tmp_path / "retention-down.log",
             TANHUI_CREDITS_DATABASE_URL=f"postgresql+psycopg://tanhui:tanhui@127.0.0.1:{closed}/x"),
    ]
    try:
        (ok, ok_url), (down, down_url) = jobs
        samples = _scraped(ok, ok_url, tmp_path / "retention.log", lambda s: value(
            s, "tanhui_job_runs_total", job="retention", outcome="ok") >= 2)
        assert value(samples, "tanhui_job_rows_total", job="retention", what="credits.outbox") == 5
        assert value(samples, "tanhui_job_runs_total", outcome="failed") == 0
        assert value(samples, "tanhui_job_last_success_timestamp_seconds", job="retention") > 0
        samples = _scraped(down, down_url, tmp_path / "retention-down.log", lambda s: value(
            s, "tanhui_job_runs_total", job="retention", outcome="failed") >= 2)
        assert value(samples, "tanhui_job_runs_total", outcome="ok") == 0
        assert down.poll() is None, "a failed run must not end the job"
    finally:
        for popen, _ in jobs:
            _stop(popen)


def test_the_points_expiry_job_serves_its_metrics(migrated_database, tmp_path):
    url = migrated_database("accounts")
    popen, metrics = _job(["tanhui_accounts.cli", "expire-points", "--every", "0.5"],
                          tmp_path / "expiry.log", TANHUI_DATABASE_URL=url,
                          TANHUI_JWT_PRIVATE_KEY_FILE=str(KEY_FILE))
    try:
        samples = _scraped(popen, metrics, tmp_path / "expiry.log", lambda s: value(
            s, "tanhui_job_runs_total", job="points-expiry", outcome="ok") >= 1)
        assert value(samples, "tanhui_job_last_success_timestamp_seconds", job="points-expiry") > 0
        assert ("tanhui_job_rows_total", (("job", "points-expiry"), ("what", "points"))) in samples
    finally:
        _stop(popen)
