"""Prometheus metrics of every service process (API, outbox relay, consumer).

One registry per process, on a port of its own (`TANHUI_METRICS_PORT`, bound to
`TANHUI_METRICS_HOST`, 127.0.0.1 by default), as the gateway serves its own: never on a port
clients reach. Every label takes a bounded set of values: the service's name, route templates,
event types of the contract catalogue, topic partitions, fixed outcome and reason classes.
The gateway's own metrics stay in tanhui_gateway/observability.py.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, ProcessCollector

REGISTRY = CollectorRegistry()
# CPU seconds, resident memory, open files, start time: per process, for free on Linux.
ProcessCollector(registry=REGISTRY)

# Seconds; from a cached lookup (1 ms) to a slow write (10 s).
LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
