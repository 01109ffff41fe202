"""Three credits instances (API, relay, consumer each) in one consumer group under issuance and
transfer load; one instance SIGKILLed mid-run. No double issuance, no double transfer, every
request answered or safely retried with its Idempotency-Key, and the audit chain intact."""
from __future__ import annotations

import signal
import threading
import time
import uuid
from datetime import date
from decimal import Decimal

import httpx
from sqlalchemy import text

from tanhui_shared.contracts import CloudEvent, MonitoringVerified, UserRegistered, qualified
from tanhui_shared.db import make_engine
from tanhui_shared.devstack import Process, Stack
from tanhui_shared.messaging.kafka import make_producer

from fault_support import free_port, report, wait_for

ISSUANCES = 40
TRANSFERS = 120


def scalar(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def publish(producer, namespace: str, contract) -> None:
    envelope = CloudEvent(type=contract.TYPE, source=contract.SOURCE, subject=contract.aggregate_id(),
                          data=contract.model_dump(mode="json"))
    producer.send(qualified(contract.TOPIC, namespace), key=contract.aggregate_id().encode(),
                  value=envelope.to_json()).get(timeout=30)


def verified(owner_id: str, owner: str, n: int, tonnes: int) -> MonitoringVerified:
    return MonitoringVerified(
        issuance_id=f"iss-{n}-{uuid.uuid4().hex[:6]}", project_id=f"scale-{n % 5}", project_number=700 + n % 5,
        project_name="scale-out forest", project_kind="forest_management", county="蓬安县",
        owner_user_id=owner_id, owner_username=owner, monitoring_report_id=f"mr-{n}",
        verification_id=f"v-{n}", verifier_user_id="verifier", period_start=date(2020 + n % 5, 1, 1),
        period_end=date(2020 + n % 5, 12, 31), vintage=2020 + n % 5, verified_tco2e=Decimal(tonnes),
        buffer_pct=Decimal(10))


def test_three_credits_instances_one_killed_mid_run_issue_and_transfer_exactly_once(
        infra, topic_namespace, migrated_database, signing_key, tmp_path):
    namespace = topic_namespace
    url = migrated_database("credits")
    engine = make_engine(url)
    signing_key.trust_in(engine)
    ports = [free_port() for _ in range(3)]
    stack = Stack(kafka_bootstrap=infra.kafka_bootstrap, database_urls={"credits": url},
                  var_dir=tmp_path, service_ports={"credits": ports[0]},
                  extra_env={"TANHUI_TOPIC_NAMESPACE": namespace, "TANHUI_ENV": "test",
                             "TANHUI_CONSUMER_SESSION_TIMEOUT_MS": "6000"})
    for template in [p for p in stack.plan() if p.name.startswith("credits-")]:
        for i, port in enumerate(ports):
            argv = [str(port) if arg == str(ports[0]) else arg for arg in template.argv]
            stack.processes[f"{template.name}-{i}"] = Process(f"{template.name}-{i}", argv, template.env)
    (tmp_path / "logs").mkdir(exist_ok=True)
    for name in stack.processes:
        stack.start_process(name)
    producer = make_producer(infra.kafka_bootstrap, "scale-test")
    try:
        wait_for(lambda: all(_ready(p) for p in ports), 60, "three credits APIs ready")
        seller, buyer = (str(uuid.uuid4()), f"seller-{uuid.uuid4().hex[:6]}"), (str(uuid.uuid4()), f"buyer-{uuid.uuid4().hex[:6]}")
        for user_id, name in (seller, buyer):
            publish(producer, namespace, UserRegistered(user_id=user_id, username=name, role="enterprise",
                                                        subject_kind="organisation"))
        publish(producer, namespace, verified(*seller, 0, 2_000))  # stock for the transfers
        headers = signing_key.headers(seller[0], "enterprise", seller[1])
        buyer_headers = signing_key.headers(buyer[0], "enterprise", buyer[1])
        wait_for(lambda: _total(ports[0], headers) == 1_800, 60, "the first issuance")
        # The transfers need the buyer's holding account, which only the buyer's UserRegistered
        # opens (the issuance opens the seller's itself). That event travels on another topic and
        # partition than MonitoringVerified, possibly to another of the three consumers, and
        # nothing orders the two: while the group still rebalances (three members joining), the
        # buyer's partition can sit unconsumed for seconds after the seller's issuance is
        # visible. Transfers sent then answer 404 "no holding account for to_username", as they
        # should; so wait for the account, as a client would, before sending any.
        wait_for(lambda: _total(ports[1], buyer_headers) == 0, 60, "the buyer's holding account")

        outcomes: dict[str, int] = {}
        refusals: dict[str, str] = {}  # key -> the problem detail of an answer other than 201
        retries = 0

        def transfers() -> None:
            nonlocal retries
            for n in range(TRANSFERS):
                key = f"transfer-{n}-{namespace}"
                for attempt in range(20):  # the same key, instance after instance, until answered
                    port = ports[(n + attempt) % 3]
                    try:
                        reply = httpx.post(f"http://127.0.0.1:{port}/api/v1/transfers", timeout=5,
                                           headers={**headers, "Idempotency-Key": key},
                                           json={"to_username": buyer[1], "quantity": 1 + n % 3})
                        if reply.status_code < 500:
                            outcomes[key] = reply.status_code
                            if reply.status_code != 201:
                                refusals[key] = reply.text[:300]
                            break
                    except httpx.HTTPError:
                        pass
                    retries += 1
                    time.sleep(0.2)

        sender = threading.Thread(target=transfers)
        sender.start()
        for n in range(1, ISSUANCES + 1):
            event = verified(*seller, n, 10 + n)
            publish(producer, namespace, event)
            if n % 10 == 0:
                publish(producer, namespace, event)  # a redelivered duplicate (new envelope id)
            if n == ISSUANCES // 2:
                killed_at = time.monotonic()
                for role in ("api", "relay", "consumer"):
                    stack.processes[f"credits-{role}-1"].popen.send_signal(signal.SIGKILL)
        sender.join(timeout=180)
        issued_s = wait_for(lambda: scalar(engine, "SELECT count(*) FROM issuance") == ISSUANCES + 1,
                            120, "every issuance applied by the surviving consumers")
        wait_for(lambda: scalar(engine, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0,
                 60, "the surviving relays drained the outbox")
        audit = httpx.get(f"http://127.0.0.1:{ports[0]}/api/v1/registry/audit/verify", timeout=10).json()
        buyer_total = _total(ports[2], buyer_headers)
    finally:
        producer.close()
        stack.stop()

    expected_total = sum(1 + n % 3 for n in range(TRANSFERS))
    issued_events = scalar(engine, "SELECT count(*) FROM outbox WHERE envelope LIKE '%credits.issued%'")
    transfers_logged = scalar(engine, "SELECT count(*) FROM idempotency_record WHERE key LIKE 'transfer-%'")
    report("scale-out", instances=3, killed=1, issuances=ISSUANCES + 1, transfers=TRANSFERS,
           retried_requests=retries, seconds_after_kill_to_all_issued=time.monotonic() - killed_at,
           seconds_waiting_for_issuance=issued_s)
    assert set(outcomes.values()) == {201} and len(outcomes) == TRANSFERS, (refusals, outcomes)
    assert buyer_total == expected_total, "a transfer was applied twice or lost"
    assert transfers_logged == TRANSFERS
    assert issued_events == ISSUANCES + 1, "an issuance was published twice or not at all"
    assert audit.get("intact") is True, audit
    engine.dispose()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _total(port: int, headers: dict) -> int | None:
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/holdings", headers=headers, timeout=5)
        return reply.json().get("total") if reply.status_code == 200 else None
    except httpx.HTTPError:
        return None
