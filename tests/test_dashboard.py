"""The operators' Grafana dashboard (deploy/observability/) is what tools/grafana_dashboard.py
writes, and every metric it queries is one some tanhui process exports."""
from __future__ import annotations

import json
import re
import sys

from prometheus_client import CollectorRegistry

from tanhui_gateway.observability import Metrics as GatewayMetrics
from tanhui_shared.metrics import REGISTRY
from tanhui_shared.metrics import consumer, http, jobs, relay, server  # noqa: F401 - they register
from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import grafana_dashboard  # noqa: E402

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported(registry: CollectorRegistry) -> set[str]:
    """The sample names a registry's families expose, with or without any sample yet."""
    return {family.name + suffix for family in registry.collect()
            for suffix in SUFFIXES.get(family.type, ("",))}


def queried() -> set[str]:
    return {name for panel in grafana_dashboard.dashboard()["panels"]
            for target in panel.get("targets", [])
            for name in re.findall(r"\btanhui_[a-z0-9_]+\b", target["expr"])}


def test_the_committed_dashboard_is_the_generated_one():
    assert grafana_dashboard.OUT.read_text() == grafana_dashboard.render(), \
        "run `uv run python tools/grafana_dashboard.py` and commit the result"
    json.loads(grafana_dashboard.OUT.read_text())


def test_every_metric_the_dashboard_queries_is_exported():
    names = exported(REGISTRY) | exported(GatewayMetrics().registry)
    wanted = queried()
    assert wanted - names == set()
    # and each of the subjects has its panel
    for metric in ("tanhui_gateway_request_duration_seconds_bucket",
                   "tanhui_http_request_duration_seconds_bucket", "tanhui_outbox_backlog",
                   "tanhui_outbox_oldest_age_seconds", "tanhui_relay_events_published_total",
                   "tanhui_consumer_lag", "tanhui_consumer_handler_duration_seconds_bucket",
                   "tanhui_consumer_dead_letters_total"):
        assert metric in wanted

