"""How a relay or consumer process gets its metrics and probes (called from service.py)."""
from __future__ import annotations

from sqlalchemy.engine import Engine

from ..messaging.consumer import ConsumerRunner
from ..settings import ServiceSettings
from .consumer import ConsumerMetrics
from .relay import RelayMetrics
from .server import Health, serve


def _health(settings: ServiceSettings, worker: str) -> Health:
    health = Health(settings.service_name, worker, settings.worker_stall_s)
    if settings.metrics_port is not None:
        serve(settings.metrics_host, settings.metrics_port, health)
    return health


def observe_relay(settings: ServiceSettings, engine: Engine) -> RelayMetrics:
    return RelayMetrics(settings.service_name, engine, _health(settings, "relay"),
                        settings.metrics_sample_s)


def observe_consumer(settings: ServiceSettings, runner: ConsumerRunner) -> ConsumerMetrics:
    """Times every handler of `runner` and makes the metrics its observer."""
    observer = ConsumerMetrics(settings.service_name, runner.engine,
                               _health(settings, "consumer"), settings.metrics_sample_s)
    runner.handlers = {kind: observer.timed(kind, handler) for kind, handler in runner.handlers.items()}
    runner.observer = observer
    return observer
