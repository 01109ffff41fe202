"""Metrics of the periodic jobs (points expiry, messaging retention): how their runs went, when
one last succeeded, how many rows they changed. A job that never succeeds is the alert:
`time() - tanhui_job_last_success_timestamp_seconds` beyond a few periods.

The port comes from TANHUI_METRICS_PORT / TANHUI_METRICS_HOST, as for every other process
(the retention job serves several services' databases, so it reads no one service's settings).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Counter, Gauge

from . import REGISTRY
from .server import serve

log = logging.getLogger(__name__)
T = TypeVar("T")

RUNS = Counter("tanhui_job_runs_total", "Runs of a periodic job, by outcome (ok, failed)",
               ["job", "outcome"], registry=REGISTRY)
LAST_SUCCESS = Gauge("tanhui_job_last_success_timestamp_seconds",
                     "When the job last ran to the end (Unix time)", ["job"], registry=REGISTRY)
ROWS = Counter("tanhui_job_rows_total",
               "Rows a periodic job changed, by what they were (e.g. credits.outbox)",
               ["job", "what"], registry=REGISTRY)


def serve_job_metrics() -> None:
    """Starts the metrics port if TANHUI_METRICS_PORT is set (`make up`, compose, Kubernetes)."""
    port = os.environ.get("TANHUI_METRICS_PORT")
    if port:
        serve(os.environ.get("TANHUI_METRICS_HOST", "127.0.0.1"), int(port))


def run_once(job: str, work: Callable[[], T]) -> T | None:
    """One run of `job`, counted; a failure is logged and counted, and None returned: the next
    period tries again (the database may be back by then), the process stays up."""
    try:
        result = work()
    except Exception:  # noqa: BLE001 - any failure: the next run retries
        RUNS.labels(job, "failed").inc()
        log.exception("%s: this run failed; the next one retries", job)
        return None
    RUNS.labels(job, "ok").inc()
    LAST_SUCCESS.labels(job).set_to_current_time()
    return result
