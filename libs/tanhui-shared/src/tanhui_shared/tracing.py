"""OpenTelemetry traces: one tracer provider per process, W3C trace context in and out.

A request's trace starts at the gateway (or continues a well-formed `traceparent` sent to it),
crosses into a service over HTTP (the `traceparent` header), and into other services' consumers
through the events the service records (the CloudEvents distributed-tracing extension:
`traceparent` and `tracestate` in the envelope). Spans are exported over OTLP/HTTP only when the
standard `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; without
it ids are still made and passed on (logs carry them) but spans are not recorded, and nothing
leaves the process. The sampler is the SDK's, from the standard `OTEL_TRACES_SAMPLER` (default
parent-based, always on; see _Sampler).
"""
from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (NonRecordingSpan, Span, SpanContext, SpanKind, StatusCode,
                                 TraceFlags)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_W3C = TraceContextTextMapPropagator()
_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# A proxy until configure_tracing installs the provider; before that (e.g. a unit test calling
# record_event directly) every span is a no-op with no ids, and nothing is propagated.
_TRACER = trace.get_tracer("tanhui")
_configured: str | None = None
_sampler = None  # the _Sampler below, once configure_tracing made it

# FastAPI's own telemetry is off (no spans of its own, nor its OpenTelemetry metrics and logs,
# nor exporters): a service's server span is web/server_spans.py's (one per request, named by the
# route template, continuing the caller's `traceparent`), the gateway's is its own.
NO_FASTAPI_TELEMETRY = {"tracing": False, "operation_spans": False, "metrics": False,
                        "logs": False, "auto_configure": False}


def exporting() -> bool:
    return any(os.environ.get(name) for name in _ENDPOINT_VARS)


def configure_tracing(process: str) -> None:
    """The provider for this process, named `process` (`service.name`: accounts,
    accounts-consumer, gateway...). Once per process: a second call keeps the first provider."""
    global _configured
    if _configured is not None:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # shutdown_on_exit (the default) flushes the batch processor at interpreter exit, which
    # every process reaches on SIGTERM (uvicorn's and stop_on_signals' orderly stop).
    global _sampler
    _sampler = _Sampler()
    provider = TracerProvider(resource=Resource.create({"service.name": process}),
                              sampler=_sampler)
    if exporting():
        # imported only when used: it brings `requests` and protobuf into every process start
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _sampler.record()
    trace.set_tracer_provider(provider)
    _configured = process


def export_to(processor) -> None:
    """Spans also go to `processor` (an SDK span processor), and are recorded from now on even
    where no OTLP endpoint is set (tests collect them in memory this way). After
    configure_tracing."""
    if _sampler is None:
        raise RuntimeError("configure_tracing first")
    trace.get_tracer_provider().add_span_processor(processor)
    _sampler.record()


class _Sampler:
    """Records nothing while nothing is exported (recording costs the gateway several times
    what unrecorded spans do: bench/results/tracing.md), yet every span still gets ids, which
    are passed on and logged. Once spans are exported: the SDK's sampler from the standard
    OTEL_TRACES_SAMPLER (default parent-based, always on). An explicit OTEL_TRACES_SAMPLER
    applies either way."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider, sampling

        # the sampler the SDK reads from the environment, as a provider given none has it
        self._chosen = TracerProvider(shutdown_on_exit=False).sampler
        self._off = sampling.ALWAYS_OFF
        self._inner = self._chosen if os.environ.get("OTEL_TRACES_SAMPLER") else self._off

    def record(self) -> None:
        self._inner = self._chosen

    @property
    def recording(self) -> bool:
        return self._inner is not self._off

    def should_sample(self, *args, **kwargs):
        return self._inner.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return f"tanhui({self._inner.get_description()})"



def tracer() -> trace.Tracer:
    return _TRACER


def recording() -> bool:
    """Whether spans may be recorded (an exporter, a test's processor or OTEL_TRACES_SAMPLER)."""
    return _sampler is None or _sampler.recording


def start_span(name: str, *, context: Context | None = None, kind: SpanKind = SpanKind.INTERNAL,
               attributes: dict | None = None) -> Span:
    """The tracer's `start_span`, but while nothing is recorded, a span made directly: the ids
    the SDK would give it (the parent's trace id, or a new one; a new span id; not sampled) for
    a few microseconds, not the SDK's tens (sampler, attribute cleaning, the span's locks),
    which the gateway pays twice a request (bench/results/tracing.md)."""
    if recording():
        return _TRACER.start_span(name, context=context, kind=kind, attributes=attributes)
    parent = trace.get_current_span(context).get_span_context()
    trace_id = parent.trace_id if parent.is_valid else _new_id(128)
    return NonRecordingSpan(SpanContext(trace_id, _new_id(64), is_remote=False,
                                        trace_flags=TraceFlags(TraceFlags.DEFAULT),
                                        trace_state=parent.trace_state if parent.is_valid else None))


def _new_id(bits: int) -> int:
    # as the SDK's RandomIdGenerator: random bits, never 0 (the invalid id)
    while True:
        value = random.getrandbits(bits)
        if value:
            return value


def remote_parent(traceparent: str | None, tracestate: str | None = None) -> Context:
    """A context whose parent is the given W3C trace context, or an empty one (a new trace)
    when it is missing or malformed: a bad header from a client or an old event is ignored,
    never an error."""
    if not traceparent:
        return Context()
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _W3C.extract(carrier, Context())


def traceparent_of(span: Span | None = None) -> tuple[str | None, str | None]:
    """(`traceparent`, `tracestate` or None) of `span` (default: the current one); (None, None)
    when there is no valid span to point to."""
    ctx = (span or trace.get_current_span()).get_span_context()
    if not ctx.is_valid:
        return None, None
    return (f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}",
            ctx.trace_state.to_header() or None)


def log_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, as hex, for log lines; None outside spans."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


@contextmanager
def consuming(event, topic: str, group: str, batch_size: int = 1) -> Iterator[Span]:
    """The consumer span of one event (OpenTelemetry messaging conventions, `process`), a child
    of the span that recorded the event, current while its handler runs: the events the handler
    records carry the same trace on."""
    parent = remote_parent(event.traceparent, event.tracestate)
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "messaging.message.id": event.id,
        "cloudevents.event_id": event.id,
        "cloudevents.event_type": event.type,
        "cloudevents.event_source": event.source,
    }
    if batch_size > 1:
        attributes["messaging.batch.message_count"] = batch_size
    span = start_span(f"process {topic}", context=parent, kind=SpanKind.CONSUMER,
                      attributes=attributes)
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    except BaseException as exc:
        span.set_status(StatusCode.ERROR, exc.__class__.__name__)
        raise
    finally:
        otel_context.detach(token)
        span.end()
