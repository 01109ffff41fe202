"""Relays and consumers under load, watched only through their metrics port, as Prometheus and
the kubelet watch them: the backlog and the lag rise and drain, and the probes tell a healthy
worker from one whose database or broker is gone or whose loop is stuck.

accounts' relay publishes UserRegistered events that credits' consumer applies (each opens a
holding account): real processes on real PostgreSQL and Kafka.
"""
from __future__ import annotations

import socket
import uuid

import httpx
from sqlmodel import Session

from tanhui_shared.contracts import ACCOUNTS_TOPIC, UserRegistered, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.messaging import record_event
from tanhui_shared.messaging.kafka import make_producer

from test_dashboard import queried
from metrics_support import Worker, free_port, scrape, value, wait_until

EVENTS = 2_000
SAMPLE = {"TANHUI_METRICS_SAMPLE_S": "0.5"}


def write_outbox(url: str, count: int) -> None:
    engine = make_engine(url, pool_size=1)
    for start in range(0, count, 500):
        with Session(engine) as session, session.begin():
            for n in range(start, min(start + 500, count)):
                record_event(session, UserRegistered(user_id=str(uuid.uuid4()), username=f"load{n}",
                                                     role="citizen", subject_kind="person"))
    engine.dispose()


def exposes(samples: dict, *prefixes: str) -> bool:
    wanted = {name for name in queried() if name.startswith(prefixes)}
    missing = wanted - {name for name, _ in samples}
    assert wanted and not missing, missing
    return True


def watch(worker: Worker, name: str, until, timeout_s: float, **labels: str) -> list[float]:
    """Scrapes `name` every 0.1 s until `until(figures)`; returns every figure seen."""
    seen: list[float] = []

    def scraped() -> bool:
        seen.append(value(worker.scrape(), name, **labels))
        return until(seen)

    wait_until(scraped, timeout_s, f"{name} on {worker.url}: {seen[-5:]}")
    return seen


def test_backlog_and_lag_rise_and_drain_as_scraped(infra, migrated_database, topic_namespace,
                                                  tmp_path):
    accounts, credits = migrated_database("accounts"), migrated_database("credits")
    write_outbox(accounts, EVENTS)  # written while no relay runs
    common = {"TANHUI_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
              "TANHUI_TOPIC_NAMESPACE": topic_namespace, **SAMPLE}
    # small batches: the relay takes a while over the backlog, as one behind its writers does
    relay = Worker("accounts", "relay", tmp_path, TANHUI_DATABASE_URL=accounts,
                   TANHUI_RELAY_BATCH_SIZE="50", **common)
    consumer = None
    try:
        wait_until(relay.answering, 60, "the relay's metrics port")
        backlog = watch(relay, "tanhui_outbox_backlog", lambda s: s[-1] > 0, 60, service="accounts")
        first_age = value(relay.scrape(), "tanhui_outbox_oldest_age_seconds", service="accounts")
        backlog += watch(relay, "tanhui_outbox_backlog",
                         lambda s: s[-1] == 0 and len(s) > 1, 120, service="accounts")
        drained = relay.scrape()
        assert value(drained, "tanhui_relay_events_published_total", service="accounts") == EVENTS
        assert value(drained, "tanhui_outbox_oldest_age_seconds", service="accounts") == 0
        assert value(drained, "tanhui_relay_batch_duration_seconds_count", service="accounts") >= EVENTS / 50
        assert first_age > 0
        assert relay.probe("/livez")[0] == 200 and relay.probe("/readyz")[0] == 200
        # what the dashboard asks of relays, a relay's scrape has
        assert exposes(drained, "tanhui_outbox", "tanhui_relay", "tanhui_worker")

        # every event is on the topic now, and one record that is no event at all; credits'
        # group starts behind by all of them
        producer = make_producer(infra.kafka_bootstrap, "metrics-test")
        producer.send(qualified(ACCOUNTS_TOPIC, topic_namespace), key=b"poison",
                      value=b"not a CloudEvent").get(timeout=30)
        producer.close()
        consumer = Worker("credits", "consumer", tmp_path, TANHUI_DATABASE_URL=credits, **common)
        wait_until(consumer.answering, 60, "the consumer's metrics port")
        lag = watch(consumer, "tanhui_consumer_lag", lambda s: s[-1] > 0, 60, service="credits")
        lag += watch(consumer, "tanhui_consumer_lag", lambda s: s[-1] == 0 and max(s) > 0, 120,
                     service="credits")
        wait_until(lambda: value(consumer.scrape(), "tanhui_consumer_events_total",
                                 outcome="applied") == EVENTS, 30, "every event applied")
        done = consumer.scrape()
        handled = value(done, "tanhui_consumer_handler_duration_seconds_count",
                        event_type=UserRegistered.TYPE)
        assert handled >= EVENTS
        assert value(done, "tanhui_consumer_dead_letters_total", reason="malformed") == 1
        assert value(done, "tanhui_consumer_dead_letters_total", service="credits") == 1
        assert consumer.probe("/livez")[0] == 200 and consumer.probe("/readyz")[0] == 200
        assert exposes(done, "tanhui_consumer", "tanhui_worker")
        print(f"\n[metrics:load] outbox backlog scraped max {max(backlog):.0f} -> "
              f"{backlog[-1]:.0f} over {len(backlog)} scrapes, oldest row age {first_age:.2f}s, "
              f"published {EVENTS}; consumer lag scraped max {max(lag):.0f} -> {lag[-1]:.0f} over "
              f"{len(lag)} scrapes, applied {EVENTS}, handler timings {handled:.0f}, "
              f"dead letters 1 (malformed)")
    finally:
        relay.stop()
        if consumer is not None:
            consumer.stop()


def test_probes_fail_when_the_database_or_broker_is_gone(infra, migrated_database,
                                                        topic_namespace, tmp_path):
    closed = free_port()  # nothing listens there
    common = {"TANHUI_TOPIC_NAMESPACE": topic_namespace, **SAMPLE}
    accounts = migrated_database("accounts")
    gone_url = f"postgresql+psycopg://tanhui:tanhui@127.0.0.1:{closed}/tanhui_accounts"
    workers = {
        "healthy relay": Worker("accounts", "relay", tmp_path, TANHUI_DATABASE_URL=accounts,
                                TANHUI_KAFKA_BOOTSTRAP=infra.kafka_bootstrap, **common),
        "relay without database": Worker("accounts", "relay", tmp_path, TANHUI_DATABASE_URL=gone_url,
                                         TANHUI_KAFKA_BOOTSTRAP=infra.kafka_bootstrap, **common),
        "relay without broker": Worker("accounts", "relay", tmp_path, TANHUI_DATABASE_URL=accounts,
                                       TANHUI_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed}", **common),
        "consumer without database": Worker("credits", "consumer", tmp_path,
                                            TANHUI_DATABASE_URL=gone_url.replace("accounts", "credits"),
                                            TANHUI_KAFKA_BOOTSTRAP=infra.kafka_bootstrap, **common),
        "healthy consumer": Worker("credits", "consumer", tmp_path,
                                   TANHUI_DATABASE_URL=migrated_database("credits"),
                                   TANHUI_KAFKA_BOOTSTRAP=infra.kafka_bootstrap, **common),
    }
    try:
        for name, worker in workers.items():
            wait_until(worker.answering, 60, f"{name}'s metrics port")
        wait_until(lambda: workers["healthy relay"].probe("/readyz")[0] == 200, 30, "relay ready")
        wait_until(lambda: workers["healthy consumer"].probe("/readyz")[0] == 200, 60,
                   "consumer ready")
        for name, dependency in (("relay without database", "database"),
                                 ("relay without broker", "kafka"),
                                 ("consumer without database", "database")):
            worker = workers[name]
            wait_until(lambda: worker.probe("/readyz")[1][dependency].startswith("failed"), 60,  # noqa: B023
                       f"{name}: /readyz names the {dependency}")
            status, body = worker.probe("/readyz")
            assert status == 503, body
            # its loop turns, waiting: a restart would not bring the dependency back
            assert worker.probe("/livez")[0] == 200
            failures = value(worker.scrape(), "tanhui_relay_failures_total" if "relay" in name
                             else "tanhui_consumer_failures_total", kind=dependency)
            assert failures >= 1
            assert value(worker.scrape(), "tanhui_worker_dependency_up", dependency=dependency) == 0
            print(f"\n[metrics:probe] {name}: /readyz {status} {body}")
    finally:
        for worker in workers.values():
            worker.stop()


def test_a_stuck_loop_is_not_live(migrated_database, infra, topic_namespace, tmp_path):
    """A database that accepts connections and never answers: the relay's loop hangs in its
    first query, and /livez turns 503 once the loop has not turned for TANHUI_WORKER_STALL_S."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)  # the kernel completes the handshakes; nothing ever reads or answers
        url = f"postgresql+psycopg://tanhui:tanhui@127.0.0.1:{hole.getsockname()[1]}/stuck"
        relay = Worker("accounts", "relay", tmp_path, TANHUI_DATABASE_URL=url,
                       TANHUI_KAFKA_BOOTSTRAP=infra.kafka_bootstrap, TANHUI_WORKER_STALL_S="2",
                       TANHUI_TOPIC_NAMESPACE=topic_namespace)
        try:
            wait_until(relay.answering, 60, "the relay's metrics port")
            wait_until(lambda: relay.probe("/livez")[0] == 503, 30, "/livez 503")
            status, body = relay.probe("/livez")
            assert body["status"] == "stalled" and body["loop_idle_s"] >= 2
            assert relay.probe("/readyz")[0] == 503
            print(f"\n[metrics:stuck] /livez {status} {body}")
        finally:
            relay.stop()


def test_a_service_api_counts_requests_by_route_template_on_its_metrics_port(migrated_database):
    """The API's requests, labelled by the route FastAPI matched: two serials, one series.
    Counted as differences: the registry is the process's, and other tests of this process may
    have served the same routes."""
    from fastapi.testclient import TestClient
    from tanhui_credits.app import create_app
    from tanhui_credits.settings import CreditsSettings

    serials = "/api/v1/registry/serials/{serial}"
    port = free_port()
    app = create_app(CreditsSettings(env="test", database_url=migrated_database("credits"),
                                     metrics_port=port))
    try:
        with TestClient(app) as http:
            before = scrape(f"http://127.0.0.1:{port}/metrics")
            for serial in ("NC-FS-0001-2025-000000001-000000010", "NC-FS-0002-2025-000000001-000000010"):
                assert http.get(f"/api/v1/registry/serials/{serial}").status_code == 404
            assert http.get(f"/no/such/{uuid.uuid4()}").status_code == 404
        scraped = scrape(f"http://127.0.0.1:{port}/metrics")

        def added(name: str, **labels: str) -> float:
            return value(scraped, name, **labels) - value(before, name, **labels)

        assert added("tanhui_http_requests_total", service="credits", route=serials,
                     method="GET", status="404") == 2
        assert added("tanhui_http_request_duration_seconds_count", service="credits",
                     route=serials) == 2
        assert added("tanhui_http_requests_total", route="unmatched") == 1
        routes = {dict(labels)["route"] for name, labels in scraped
                  if name == "tanhui_http_requests_total"}
        assert not any("NC-FS" in route or route.startswith("/no/") for route in routes), routes
    finally:
        app.state.metrics_server.shutdown()
        app.state.metrics_server.server_close()
        app.state.engine.dispose()


def test_every_process_of_the_platform_serves_metrics_and_its_workers_are_ready(platform):
    """The platform as `make up` runs it: each service's API, relay and consumer on its metrics
    port (devstack.METRICS_OFFSETS), the workers ready, the APIs counting the gateway's probes."""
    assert httpx.get(platform.gateway_url + "/readyz", timeout=10).status_code == 200
    for service in platform.service_ports:
        for kind in ("relay", "consumer"):
            url = f"http://127.0.0.1:{platform.metrics_port(service, kind)}"
            wait_until(lambda: httpx.get(url + "/readyz", timeout=5).status_code == 200, 60,  # noqa: B023
                       f"{service}-{kind} ready")
            assert value(scrape(url + "/metrics"), "tanhui_worker_dependency_up",
                         service=service, worker=kind) == 2  # database and kafka
        api = scrape(f"http://127.0.0.1:{platform.metrics_port(service, 'api')}/metrics")
        assert value(api, "tanhui_http_requests_total", service=service, route="/readyz") >= 1
