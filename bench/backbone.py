"""The event backbone and the platform's processes (issue 7's benchmark):

1. outbox relay throughput beside a raw kafka-python producer (made as the relay's:
   acks=all, idempotent, zstd, 256 KiB batches, the relay's linger) sending the same records, headers included (and
   once without them, as before), in the same run;
2. end-to-end event latency at 1,000 events/s: a state change committed in one database ->
   its effect committed by a consumer in another process, p50/p99;
3. resident memory of every platform process (10 of them, on PostgreSQL) at rest and under load.

Run: `make bench` (or `uv run python bench/backbone.py`).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from tanhui_shared.contracts import ACCOUNTS_TOPIC, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.devstack import SERVICES, Stack
from tanhui_shared.messaging import OutboxMessage, record_event
from tanhui_shared.messaging.kafka import ensure_topics, make_producer
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.messaging.relay import RELAY_LINGER_MS, OutboxRelay
from tanhui_shared.settings import REPO_ROOT, ServiceSettings
from tanhui_shared.testing.backbone_worker import PingEffect, Pinged, create_schema

sys.path.insert(0, str(REPO_ROOT / "bench"))
from common import RESULTS, empty_database, fresh_database, machine, percentile, progress, provide_infrastructure, summary  # noqa: E402

EVENTS = 20_000
RELAY_RUNS = 6  # relay/raw pairs, alternating which goes first (see relay_vs_raw)
RELAY_BATCH = ServiceSettings.model_fields["relay_batch_size"].default  # as the services' relays
RATE = 1_000  # events per second for the latency run
LATENCY_SECONDS = 15


def blank_database(server_url: str) -> str:
    url = empty_database(server_url, "backbone")
    create_schema(make_engine(url, pool_size=1))
    return url


def stage(engine, count: int) -> None:
    for start in range(0, count, 2_000):
        with Session(engine) as session, session.begin():
            for n in range(start, start + 2_000):
                record_event(session, Pinged(aggregate=f"agg-{n % 64}", n=n))


def relay_vs_raw(infra, runs: int = RELAY_RUNS) -> dict[str, list[tuple[float, float]]]:
    """(events/s, CPU µs per event of this process) of the relay, the raw producer with the relay's
    records and without their headers, per run. Within a run the three go one after the other
    and the order alternates between runs (relay first, then raw first): on this shared machine
    the load changes within seconds (one pass saw the relay anywhere between 6,233 and 10,647/s),
    and a fixed order gave whichever came second a different share of it. Medians over the runs;
    the CPU per event hardly depends on the machine's load, the rates do."""
    figures: dict[str, list[tuple[float, float]]] = {"relay": [], "raw": [], "bare": []}
    for run in range(runs):
        namespace = f"bench{uuid.uuid4().hex[:6]}"
        ensure_topics(infra.kafka_bootstrap, namespace)
        engine = make_engine(blank_database(infra.database_url))
        stage(engine, EVENTS)
        messages = relay_records(engine)
        topic = qualified(ACCOUNTS_TOPIC, namespace)
        order = ["relay", "raw", "bare"] if run % 2 == 0 else ["bare", "raw", "relay"]
        for name in order:
            if name == "relay":
                figures[name].append(relay_rate(infra, engine, namespace))
            else:
                figures[name].append(raw_rate(infra, topic, messages if name == "raw" else
                                              [(key, value, None) for key, value, _ in messages]))
        engine.dispose()
        progress(f"relay vs raw producer, run {run + 1}/{runs} ({' -> '.join(order)}, load "
                 f"{os.getloadavg()[0]:.1f}): " + ", ".join(
                     f"{name} {figures[name][-1][0]:,.0f}/s ({figures[name][-1][1]:.0f} µs CPU/event)"
                     for name in ("relay", "raw", "bare")))
    return figures


def relay_records(engine) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """The relay's very records of the staged events (key, value, CloudEvents headers), as its
    claim builds them; the claim is rolled back, so the rows stay unpublished."""
    claim = OutboxRelay(engine, producer=None, batch_size=EVENTS)._claim(())
    try:
        return [(key, value, headers) for _topic, key, value, headers in claim.records]
    finally:
        claim.close()


def relay_rate(infra, engine, namespace: str) -> tuple[float, float]:
    producer = make_producer(infra.kafka_bootstrap, "bench-relay", RELAY_LINGER_MS)
    relay = OutboxRelay(engine, producer, batch_size=RELAY_BATCH, namespace=namespace)
    started, cpu = time.perf_counter(), time.process_time()
    while relay.drain() == relay.batch_size:  # as run_relay's passes
        pass
    figures = EVENTS / (time.perf_counter() - started), (time.process_time() - cpu) * 1e6 / EVENTS
    producer.close()
    return figures


def raw_rate(infra, topic: str, messages: list) -> tuple[float, float]:
    """kafka-python alone, made by the relay's make_producer (same settings), sending `messages`."""
    raw = make_producer(infra.kafka_bootstrap, "bench-raw", RELAY_LINGER_MS)
    started, cpu = time.perf_counter(), time.process_time()
    futures = [raw.send(topic, key=key, value=value, headers=headers) for key, value, headers in messages]
    raw.flush()
    for future in futures:
        future.get(timeout=30)
    figures = EVENTS / (time.perf_counter() - started), (time.process_time() - cpu) * 1e6 / EVENTS
    raw.close()
    return figures


def latency(infra, runs: int = 3) -> list[tuple[float, float]]:
    results = []
    for run in range(runs):
        namespace = f"lat{uuid.uuid4().hex[:6]}"
        ensure_topics(infra.kafka_bootstrap, namespace)
        url = blank_database(infra.database_url)
        engine = make_engine(url)
        env = {**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
               "TANHUI_TOPIC_NAMESPACE": namespace}
        workers = [subprocess.Popen([sys.executable, "-m", "tanhui_shared.testing.backbone_worker", role],
                                    env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
                   for role in ("relay", "consumer")]
        time.sleep(4)  # let the consumer join its group
        sent = 0
        started = time.perf_counter()
        while time.perf_counter() - started < LATENCY_SECONDS:
            due = int((time.perf_counter() - started) * RATE)
            if due > sent:
                with Session(engine) as session, session.begin():
                    for n in range(sent, due):
                        record_event(session, Pinged(aggregate=f"agg-{n % 64}", n=n))
                sent = due
            time.sleep(0.005)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Session(engine) as session:
                applied = session.exec(select(func.count()).select_from(PingEffect)).one()
            if applied >= sent:
                break
            time.sleep(0.5)
        for worker in workers:
            worker.terminate()
            worker.wait()
        with Session(engine) as session:
            committed = {r.event_id: r.created_at for r in session.exec(select(OutboxMessage)).all()}
            effects = session.exec(select(PingEffect.event_id, PingEffect.applied_at)).all()
        waits = sorted((applied_at - committed[event_id]) / timedelta(milliseconds=1)
                       for event_id, applied_at in effects)
        if len(waits) < sent:  # a latency of the events that made it would flatter the figure
            raise RuntimeError(f"only {len(waits):,} of {sent:,} events were applied within 60 s of the "
                               "last send: the machine is too loaded for this measurement (see `uptime`), "
                               "or the consumer failed: run again on a quiet machine")
        results.append((percentile(waits, 50), percentile(waits, 99)))
        progress(f"latency at {RATE}/s, run {run + 1}/{runs}: {len(waits):,} events, "
                 f"p50 {results[-1][0]:.1f} ms, p99 {results[-1][1]:.1f} ms")
        engine.dispose()
    return results


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def licensed_operator(accounts_url: str) -> tuple[str, str]:
    """A bus operator licensed through the admin's use case: (client_id, client_secret)."""
    from datetime import date

    from tanhui_accounts.domain.accreditation import Terms
    from tanhui_accounts.domain.identity import Role
    from tanhui_accounts.domain.travel import Mode
    from tanhui_accounts.usecases.accreditation import grant_accreditation, new_credentials
    from tanhui_shared.uow import in_unit_of_work

    today = date.today()
    terms = Terms(Role.TRANSIT_OPERATOR, "bench transit", "LIC-MEM", today - timedelta(days=1),
                  today + timedelta(days=30), (Mode.BUS,))
    engine = make_engine(accounts_url, pool_size=1)
    try:
        granted = in_unit_of_work(engine, lambda uow: grant_accreditation(
            uow, "mem-operator", terms, new_credentials(Role.TRANSIT_OPERATOR), granted_by="bench"))
    finally:
        engine.dispose()
    return granted.client_id, granted.client_secret


def memory(infra) -> dict[str, tuple[float, float]]:
    namespace = f"mem{uuid.uuid4().hex[:6]}"
    ensure_topics(infra.kafka_bootstrap, namespace)
    stack = Stack(kafka_bootstrap=infra.kafka_bootstrap, redis_url=infra.redis_url,
                  database_urls={s: fresh_database(infra.database_url, s) for s in SERVICES},
                  var_dir=REPO_ROOT / ".var" / "bench", gateway_port=18800,
                  service_ports={s: 18801 + i for i, s in enumerate(SERVICES)},
                  extra_env={"TANHUI_TOPIC_NAMESPACE": namespace, "TANHUI_ENV": "test",
                             "TANHUI_LOG_LEVEL": "WARNING",
                             "TANHUI_JWT_PRIVATE_KEY_FILE": str(REPO_ROOT / "tests/keys/test-signing-key.pem"),
                             **{f"TANHUI_RATE_LIMIT_{c}": "1000000" for c in ("AUTH", "READ", "WRITE", "BATCH")}})
    stack.start()
    try:
        stack.wait_ready()
        time.sleep(5)
        at_rest = {name: rss_mb(p.popen.pid) for name, p in stack.processes.items()}
        peak = dict(at_rest)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for name, p in stack.processes.items():
                    peak[name] = max(peak[name], rss_mb(p.popen.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        progress("memory: loading the platform (registrations, a 10,000-trip batch, reads)")
        with httpx.Client(base_url=stack.gateway_url, timeout=60) as gw:
            names = []
            for i in range(100):
                name = f"mem-{i}-{uuid.uuid4().hex[:6]}"
                gw.post("/api/v1/auth/register", json={"username": name, "password": "a long password",
                                                       "role": "citizen"})
                names.append(name)
            client_id, secret = licensed_operator(stack.database_urls["accounts"])
            token = gw.post("/api/v1/auth/token", data={
                "grant_type": "client_credentials", "client_id": client_id,
                "client_secret": secret}).json()["access_token"]
            day0 = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=6)
            trips = [{"username": names[i % 100], "mode": "bus", "distance_km": "5",
                      "started_at": (day0 + timedelta(hours=i // 100)).isoformat(),
                      "ended_at": (day0 + timedelta(hours=i // 100, minutes=20)).isoformat(),
                      "external_id": f"m-{i}"} for i in range(10_000)]
            gw.post("/api/v1/trips/batch", json={"trips": trips}, headers={"Authorization": f"Bearer {token}"})
            for _ in range(300):
                gw.get("/api/v1/factors")
                gw.get("/api/v1/registry/projects")
        time.sleep(3)
        stop.set()
        sampler.join()
        return {name: (at_rest[name], peak[name]) for name in at_rest}
    finally:
        stack.stop()


def main() -> None:
    infra = provide_infrastructure()
    progress(f"infrastructure from {infra.source}")
    figures = relay_vs_raw(infra)
    rates = {name: [rate for rate, _ in runs] for name, runs in figures.items()}
    cpu = {name: statistics.median(us for _, us in runs) for name, runs in figures.items()}
    relay_rates, raw_rates, bare_rates = rates["relay"], rates["raw"], rates["bare"]
    ratios = [relay / raw for relay, raw in zip(relay_rates, raw_rates, strict=True)]
    relay_load = os.getloadavg()[0]
    latencies = latency(infra)
    rss = memory(infra)
    p50s, p99s = [p50 for p50, _ in latencies], [p99 for _, p99 in latencies]
    rows = "\n".join(f"| {name} | {rest:.0f} | {peak:.0f} |" for name, (rest, peak) in sorted(rss.items()))
    report = f"""# Event backbone and processes

Machine: {machine()}; Kafka, PostgreSQL and Redis from {infra.source}.

| figure | value |
|---|---|
| outbox relay, {EVENTS:,} events in batches of {RELAY_BATCH:,} (lock, send, check every future, mark) | {summary(relay_rates)}; {cpu["relay"]:.0f} µs CPU per event |
| raw kafka-python producer, the same {EVENTS:,} messages (key, value, headers), the relay's producer settings (acks=all + idempotence, zstd, 256 KiB batches, linger {RELAY_LINGER_MS:,} ms) | {summary(raw_rates)}; {cpu["raw"]:.0f} µs CPU per event |
| same, without the headers (as this bench measured before) | {summary(bare_rates)}; {cpu["bare"]:.0f} µs CPU per event |
| relay / raw producer, {len(ratios)} runs alternating which went first | median of the runs' ratios {statistics.median(ratios):.2f} (runs: {", ".join(f"{r:.2f}" for r in ratios)}); ratio of the medians {statistics.median(relay_rates) / statistics.median(raw_rates):.2f} (without headers: {statistics.median(relay_rates) / statistics.median(bare_rates):.2f}); CPU per event {cpu["relay"] / cpu["raw"]:.2f}x; load average (1 min) after these runs: {relay_load:.1f} |
| end-to-end latency at {RATE:,} events/s, commit -> effect committed by another process, p50 | {statistics.median(p50s):.1f} ms (runs: {", ".join(f"{v:.1f}" for v in p50s)}) |
| same, p99 | {statistics.median(p99s):.1f} ms (runs: {", ".join(f"{v:.1f}" for v in p99s)}) |

Resident memory of the platform's processes (MB), at rest and the peak under load (100
registrations, one 10,000-trip batch, 600 reads through the gateway):

| process | at rest | under load |
|---|---|---|
{rows}
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "backbone.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
