"""Writes deploy/observability/tanhui-dashboard.json, the operators' Grafana dashboard.

    uv run python tools/grafana_dashboard.py

Generated so each panel is one line here; tests/test_dashboard.py fails when the committed file
differs from what this writes, or when a panel queries a metric no process exports. Import it
in Grafana (Dashboards -> New -> Import) and pick the Prometheus data source that scrapes the
gateway's and every service process's metrics port (deploy/RUNBOOK.md, "Metrics and probes").
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "deploy" / "observability" / "tanhui-dashboard.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH, HEIGHT = 8, 8  # three panels a row, on Grafana's 24-column grid


def p95(metric: str, by: str) -> str:
    return f"histogram_quantile(0.95, sum by (le, {by}) (rate({metric}_bucket[5m])))"


# (row title, [(panel title, unit, PromQL, legend)])
ROWS: list[tuple[str, list[tuple[str, str, str, str]]]] = [
    ("Gateway", [
        ("Requests by route", "reqps",
         "sum by (route) (rate(tanhui_gateway_requests_total[5m]))", "{{route}}"),
        ("Latency p95 by route", "s", p95("tanhui_gateway_request_duration_seconds", "route"),
         "{{route}}"),
        ("Upstream errors by service", "reqps",
         "sum by (service, kind) (rate(tanhui_gateway_upstream_errors_total[5m]))",
         "{{service}} {{kind}}"),
    ]),
    ("Service APIs", [
        ("Requests by service and status", "reqps",
         "sum by (service, status) (rate(tanhui_http_requests_total[5m]))", "{{service}} {{status}}"),
        ("Latency p95 by service", "s", p95("tanhui_http_request_duration_seconds", "service"),
         "{{service}}"),
        ("Slowest routes (p95)", "s",
         f"topk(5, {p95('tanhui_http_request_duration_seconds', 'service, route')})",
         "{{service}} {{route}}"),
    ]),
    ("Outbox relays", [
        ("Outbox backlog (unpublished rows)", "short",
         "max by (service) (tanhui_outbox_backlog)", "{{service}}"),
        ("Age of the oldest unpublished row", "s",
         "max by (service) (tanhui_outbox_oldest_age_seconds)", "{{service}}"),
        ("Events published", "ops",
         "sum by (service) (rate(tanhui_relay_events_published_total[5m]))", "{{service}}"),
        ("Batch duration p95", "s", p95("tanhui_relay_batch_duration_seconds", "service"),
         "{{service}}"),
        ("Relay failures (15 min)", "short",
         "sum by (service, kind) (increase(tanhui_relay_failures_total[15m]))",
         "{{service}} {{kind}}"),
    ]),
    ("Consumers", [
        # max per partition: during a rebalance two members may both report one
        ("Consumer lag (records)", "short",
         "sum by (service) (max by (service, topic, partition) (tanhui_consumer_lag))",
         "{{service}}"),
        ("Events by outcome", "ops",
         "sum by (service, outcome) (rate(tanhui_consumer_events_total[5m]))",
         "{{service}} {{outcome}}"),
        ("Handler latency p95 by event type", "s",
         p95("tanhui_consumer_handler_duration_seconds", "service, event_type"),
         "{{service}} {{event_type}}"),
        ("Dead letters (1 h) by reason", "short",
         "sum by (service, reason) (increase(tanhui_consumer_dead_letters_total[1h]))",
         "{{service}} {{reason}}"),
        ("Consumer failures (15 min)", "short",
         "sum by (service, kind) (increase(tanhui_consumer_failures_total[15m]))",
         "{{service}} {{kind}}"),
    ]),
    ("Worker health", [
        ("Seconds since the loop last turned", "s",
         "time() - max by (service, worker) (tanhui_worker_last_progress_timestamp_seconds)",
         "{{service}} {{worker}}"),
        ("Dependencies answering (1) or not (0)", "short",
         "min by (service, worker, dependency) (tanhui_worker_dependency_up)",
         "{{service}} {{worker}} {{dependency}}"),
    ]),
    ("Periodic jobs", [
        ("Hours since the job last succeeded", "h",
         "(time() - max by (job) (tanhui_job_last_success_timestamp_seconds)) / 3600", "{{job}}"),
        ("Failed runs (1 day)", "short",
         'sum by (job) (increase(tanhui_job_runs_total{outcome="failed"}[1d]))', "{{job}}"),
        ("Rows pruned or expired (1 day)", "short",
         "sum by (job, what) (increase(tanhui_job_rows_total[1d]))", "{{job}} {{what}}"),
    ]),
]


def dashboard() -> dict:
    panels, y, next_id = [], 0, 1
    for title, row in ROWS:
        panels.append({"id": next_id, "type": "row", "title": title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
        next_id, y = next_id + 1, y + 1
        for i, (panel, unit, expr, legend) in enumerate(row):
            panels.append({
                "id": next_id, "type": "timeseries", "title": panel, "datasource": DATASOURCE,
                "gridPos": {"x": (i % 3) * WIDTH, "y": y + (i // 3) * HEIGHT, "w": WIDTH, "h": HEIGHT},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr,
                             "legendFormat": legend}],
            })
            next_id += 1
        y += HEIGHT * ((len(row) + 2) // 3)
    return {
        "uid": "tanhui-platform", "title": "tanhui platform", "tags": ["tanhui"],
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                 "query": "prometheus"}]},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    print(f"wrote {OUT}", file=sys.stderr)
