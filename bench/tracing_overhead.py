"""What tracing costs the gateway per request, in one process, without the network: the
gateway's own observing layers (access log, metrics) with and without its spans (the request's
server span, the call's client span and its `traceparent`), in alternating rounds.

Two phases, each a ratio to the untraced layers measured in turns with it:
  unrecorded  no exporter configured (the default): ids made, passed on and logged
  recorded    spans recorded and handed to a batch processor (as with OTLP export; the
              exporter's encoding and HTTP post, on the processor's thread, are not included)

Run: `uv run python bench/tracing_overhead.py` (no servers needed). The end-to-end figure is
bench/gateway_proxy.py's, whose gateways run unrecorded.
"""
from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import time

from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tanhui_gateway.observability import SCOPE_KEY, Metrics, ObserveRequests
from tanhui_gateway.tracing import TraceRequests, call_span
from tanhui_shared.logs import configure_logging
from tanhui_shared.settings import REPO_ROOT
from tanhui_shared.tracing import configure_tracing, export_to, traceparent_of

sys.path.insert(0, str(REPO_ROOT / "bench"))
from common import RESULTS, machine, progress  # noqa: E402

ROUNDS = 7
REQUESTS = 5000


async def untraced_route(scope, receive, send) -> None:
    scope[SCOPE_KEY]["route"] = "/api/v1/factors"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def traced_route(scope, receive, send) -> None:
    """The proxy path's tracing work (gateway.py): the call's span and its traceparent."""
    scope[SCOPE_KEY]["route"] = "/api/v1/factors"
    span = call_span("GET", "/api/v1/factors", "127.0.0.1", 8101)
    traceparent_of(span)
    span.set_attribute("http.response.status_code", 200)
    span.end()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def per_request_us(app) -> float:
    scope = {"type": "http", "method": "GET", "path": "/api/v1/factors",
             "headers": [(b"host", b"gateway")], "client": ("127.0.0.1", 5000)}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message) -> None:
        pass

    started = time.perf_counter()
    for _ in range(REQUESTS):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / REQUESTS * 1e6


def phase(label: str, untraced, traced) -> tuple[float, float]:
    plain, spanned = [], []
    for run in range(ROUNDS):
        plain.append(asyncio.run(per_request_us(untraced)))
        spanned.append(asyncio.run(per_request_us(traced)))
        progress(f"{label} round {run + 1}/{ROUNDS}: untraced {plain[-1]:.0f} us, traced "
                 f"{spanned[-1]:.0f} us")
    return statistics.median(plain), statistics.median(spanned)


def main() -> None:
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    os.environ.pop("OTEL_TRACES_SAMPLER", None)
    configure_logging("gateway")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115 - JSON still made
    configure_tracing("gateway")
    metrics = Metrics()
    untraced = ObserveRequests(untraced_route, metrics)
    traced = TraceRequests(ObserveRequests(traced_route, metrics))
    rows = [phase("unrecorded", untraced, traced)]
    export_to(BatchSpanProcessor(InMemorySpanExporter()))
    rows.append(phase("recorded", untraced, traced))
    lines = ["| spans | untraced layers | traced layers | added per request | ratio |",
             "|---|---|---|---|---|"]
    for name, (plain, spanned) in zip(("unrecorded (default)", "recorded"), rows, strict=True):
        lines.append(f"| {name} | {plain:.0f} us | {spanned:.0f} us | {spanned - plain:+.0f} us | "
                     f"{spanned / plain:.2f} |")
    report = (f"# Tracing overhead in the gateway\n\nMachine: {machine()}. Per request, median "
              f"of {ROUNDS} rounds of {REQUESTS:,} requests through the gateway's observing "
              f"layers in one process (access log formatted as JSON, metrics), untraced and "
              f"traced taking turns.\n\n" + "\n".join(lines) + "\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tracing.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
