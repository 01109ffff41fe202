"""The parts every service process is built from: its app, its relay, its consumer, its migrations.

Each service's `app.py`, `relay.py`, `consumer.py` and `migrate.py` are thin calls into here, so the
three services stay the same shape.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from .contracts import dlq_topic
from .db import make_engine, migrate
from .logs import configure_logging
from .memory import tune_malloc
from .messaging.consumer import ConsumerRunner, Handler
from .messaging.kafka import KafkaAccess, make_producer
from .messaging.relay import RELAY_LINGER_MS, run_relay
from .metrics.attach import observe_consumer, observe_relay
from .metrics.http import instrument_app
from .settings import ServiceSettings
from .tracing import configure_tracing
from .web import health
from .web.auth import KeyLookup, TokenVerifier
from .web.problems import install_problem_handlers
from .web.request_id import RequestIdMiddleware
from .web.server_spans import TracedFastAPI
from .web.storable_params import refuse_unstorable_params
from .web.worker_threads import in_worker_thread

T = TypeVar("T")


async def get_session(request: Request) -> AsyncIterator[Session]:
    # async: making a session does no I/O, nor does closing one that holds no connection (every
    # unit of work has committed or rolled back by then); a sync generator cost two worker-thread
    # hops per request, one in and one out. A session still in a transaction (a read left
    # open, an error midway) is closed, so rolled back, in a worker thread: that is a round trip.
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def in_request_session(request: Request, work: Callable[[Session], T]) -> T:
    """`work(session)` in a worker thread, on a session made and closed in that thread: a
    request's whole database work in one hop, for an endpoint that declares no SessionDep
    (which, an async generator, costs FastAPI's exit stack, a cancel scope and the session's
    close on the event loop in every request)."""
    engine = request.app.state.engine

    def run() -> T:
        with Session(engine, expire_on_commit=False) as session:
            return work(session)

    return await in_worker_thread(run)


def create_service_app(settings: ServiceSettings, routers: Sequence[APIRouter], *,
                       key_lookup: Callable[[Engine], KeyLookup], description: str = "",
                       engine: Engine | None = None) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)
    tune_malloc()
    engine = engine or make_engine(settings.effective_database_url())
    app = TracedFastAPI(title=settings.service_name, description=description, version="0.1.0",
                        dependencies=[Depends(refuse_unstorable_params)])
    app.state.settings = settings
    app.state.engine = engine
    app.state.token_verifier = TokenVerifier(key_lookup(engine), settings.jwt_issuer,
                                             settings.jwt_audience)
    app.add_middleware(RequestIdMiddleware)
    instrument_app(app, settings.service_name, settings.metrics_host, settings.metrics_port)
    install_problem_handlers(app)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    return app


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def relay_main(settings: ServiceSettings, each_pass: Callable[[Engine], object] | None = None
               ) -> None:
    """The outbox relay; `each_pass(engine)`: the service's periodic upkeep, once per pass."""
    configure_logging(f"{settings.service_name}-relay", settings.log_level)
    configure_tracing(f"{settings.service_name}-relay")
    tune_malloc()
    engine = make_engine(settings.effective_database_url(), pool_size=2)
    kafka = KafkaAccess.from_settings(settings)
    run_relay(
        engine,
        lambda: make_producer(kafka, f"{settings.service_name}-relay", RELAY_LINGER_MS),
        settings.relay_batch_size,
        settings.relay_idle_poll_s,
        stop_on_signals(),
        settings.topic_namespace,
        each_pass,
        observe_relay(settings, engine),
    )


def make_runner(settings: ServiceSettings, topics: list[str], handlers: dict[str, Handler]) -> ConsumerRunner:
    """The service's consumer group, as its consumer process and its DLQ tool both apply events."""
    return ConsumerRunner(
        group=settings.service_name,
        topics=topics,
        handlers=handlers,
        engine=make_engine(settings.effective_database_url(), pool_size=2),
        dlq_topic=dlq_topic(settings.service_name),
        max_attempts=settings.consumer_max_attempts,
        backoff_s=settings.consumer_backoff_s,
        namespace=settings.topic_namespace,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        instance_id=settings.consumer_instance_id,
    )


def consumer_main(settings: ServiceSettings, topics: list[str], handlers: dict[str, Handler]) -> None:
    configure_logging(f"{settings.service_name}-consumer", settings.log_level)
    configure_tracing(f"{settings.service_name}-consumer")
    tune_malloc()
    runner = make_runner(settings, topics, handlers)
    observe_consumer(settings, runner)
    kafka = KafkaAccess.from_settings(settings)
    runner.run(
        kafka,
        lambda: make_producer(kafka, f"{runner.group}-dlq"),
        stop_on_signals(),
    )


def dlq_main(settings: ServiceSettings, topics: list[str], handlers: dict[str, Handler]) -> int:
    """`python -m tanhui_<service>.dlq list | show ID | replay ID... | --all` (messaging/dlq.py)."""
    from .messaging.dlq import dlq_command

    configure_logging(f"{settings.service_name}-dlq", "WARNING")
    configure_tracing(f"{settings.service_name}-dlq")  # a replay continues the event's trace
    return dlq_command(None, lambda: make_runner(settings, topics, handlers),
                       KafkaAccess.from_settings(settings))


def migrate_main(settings: ServiceSettings, migrations_dir: Path) -> None:
    configure_logging(f"{settings.service_name}-migrate", settings.log_level)
    migrate(settings.effective_database_url(), migrations_dir)
