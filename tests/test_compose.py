"""docker-compose.yml names only real things: every command is an entry point in this repo."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import yaml

from tanhui_shared.devstack import SERVICES
from tanhui_shared.settings import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]


def _runs_as_main(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations:  # a package runs through its __main__.py
        return importlib.util.find_spec(f"{module}.__main__") is not None
    return 'if __name__ == "__main__"' in Path(spec.origin).read_text()


def test_every_python_command_is_a_real_entry_point():
    checked = 0
    for name, service in COMPOSE.items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"]:
            assert _runs_as_main(command[2]), f"{name}: {command[2]} is not runnable with -m"
            checked += 1
        elif command[:1] == ["uvicorn"]:
            module, _, factory = command[1].partition(":")
            assert callable(getattr(importlib.import_module(module), factory)), name
            assert "--factory" in command, f"{name}: create_app is a factory"
            checked += 1
    assert checked >= 14


def test_each_service_runs_api_relay_consumer_and_migrations_on_its_own_database():
    for svc in SERVICES:
        assert (REPO_ROOT / "services" / svc).is_dir()
        for suffix in ("", "-relay", "-consumer", "-migrate"):
            assert f"{svc}{suffix}" in COMPOSE, f"{svc}{suffix} missing from docker-compose.yml"
        url = COMPOSE[svc]["environment"]["TANHUI_DATABASE_URL"]
        assert url.endswith(f"/tanhui_{svc}")


def test_only_the_gateway_publishes_a_port_and_dependencies_exist():
    published = {name for name, s in COMPOSE.items() if s.get("ports")}
    assert published == {"gateway"}
    for name, service in COMPOSE.items():
        deps = service.get("depends_on") or {}
        for dep in deps:
            assert dep in COMPOSE, f"{name} depends on unknown {dep}"
    assert COMPOSE["kafka"]["image"].startswith("apache/kafka:4.")


# --- Kafka in production: SASL/SCRAM principals and their ACLs -------------------------------

def test_every_service_process_reaches_kafka_as_its_own_scram_principal():
    for svc in SERVICES:
        for suffix in ("", "-relay", "-consumer", "-migrate"):
            env = COMPOSE[f"{svc}{suffix}"]["environment"]
            assert env["TANHUI_KAFKA_SECURITY_PROTOCOL"] in ("SASL_PLAINTEXT", "SASL_SSL"), svc + suffix
            assert env["TANHUI_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", svc + suffix
            assert env["TANHUI_KAFKA_SASL_USERNAME"] == svc, svc + suffix
            # a password the operator must give (compose refuses to start without it), never a default
            assert env["TANHUI_KAFKA_SASL_PASSWORD"].startswith(f"${{TANHUI_KAFKA_PASSWORD_{svc.upper()}:?")
    init = COMPOSE["kafka-init"]["environment"]
    assert init["TANHUI_KAFKA_SASL_USERNAME"] == "admin"
    assert init["TANHUI_KAFKA_SASL_PASSWORD"].startswith("${TANHUI_KAFKA_ADMIN_PASSWORD:?")
    assert {f"TANHUI_KAFKA_PASSWORD_{s.upper()}" for s in SERVICES} <= init.keys()
    assert COMPOSE["kafka-init"]["command"] == ["python", "-m", "tanhui_shared.messaging.kafka"]


def test_the_broker_runs_deploy_kafka_in_its_secure_mode():
    kafka = COMPOSE["kafka"]
    assert kafka["entrypoint"][-1].endswith("/deploy/kafka/kafka.sh") and kafka["command"] == ["run"]
    assert kafka["environment"]["TANHUI_KAFKA_SECURE"] == "1"
    assert kafka["environment"]["TANHUI_KAFKA_ADMIN_PASSWORD"].startswith("${TANHUI_KAFKA_ADMIN_PASSWORD:?")
    secure = dict(line.split("=", 1) for line in
                  (REPO_ROOT / "deploy" / "kafka" / "secure.properties.template").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert secure["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert secure["allow.everyone.if.no.acl.found"] == "false"
    assert secure["super.users"] == "User:admin"
    assert secure["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    # no listener a client could use without a credential
    assert "PLAINTEXT:PLAINTEXT" not in secure["listener.security.protocol.map"]
    assert all(listener.startswith(("SASL_PLAINTEXT://", "CONTROLLER://127.0.0.1:"))
               for listener in secure["listeners"].split(","))


def test_the_acls_grant_each_principal_exactly_its_own_topics():
    from tanhui_shared.contracts import CONTRACTS, dlq_topic
    from tanhui_shared.messaging.kafka_security import CONSUMES, OWN_TOPIC, SERVICES as PRINCIPALS
    from tanhui_shared.messaging.kafka_security import grants

    assert set(PRINCIPALS) == set(SERVICES)
    for contract in CONTRACTS.values():  # a service publishes its events on its own topic only
        assert contract.TOPIC == OWN_TOPIC[contract.SOURCE.removeprefix("/services/")], contract
    plan = grants()
    for svc in SERVICES:
        events = importlib.import_module(f"tanhui_{svc}.events.handlers")
        assert set(CONSUMES[svc]) == set(events.TOPICS), f"{svc} consumes {events.TOPICS}"
        for event_type in events.HANDLERS:  # each handled event arrives on a topic it may read
            assert CONTRACTS[event_type].TOPIC in events.TOPICS, event_type
        mine = {(g.operation, g.resource, g.name) for g in plan if g.service == svc}
        assert mine == ({("WRITE", "TOPIC", OWN_TOPIC[svc]), ("WRITE", "TOPIC", dlq_topic(svc)),
                         ("READ", "GROUP", svc)}
                        | {("READ", "TOPIC", topic) for topic in events.TOPICS}), svc
    writers = {}
    for g in plan:
        if g.operation == "WRITE":
            writers.setdefault(g.name, set()).add(g.service)
    assert all(len(who) == 1 for who in writers.values()), writers  # one writer per topic
    assert {g.service for g in plan} == set(SERVICES)


def test_relays_and_consumers_have_a_healthcheck_on_their_metrics_port():
    for service in SERVICES:
        for kind in ("relay", "consumer"):
            box = COMPOSE[f"{service}-{kind}"]
            port = box["environment"]["TANHUI_METRICS_PORT"]
            assert box["healthcheck"]["test"] == ["CMD", "python", "-m", "tanhui_shared.probe",
                                                  f"http://127.0.0.1:{port}/readyz"]
            assert box["environment"]["TANHUI_METRICS_HOST"] == "0.0.0.0"  # for the scraper
