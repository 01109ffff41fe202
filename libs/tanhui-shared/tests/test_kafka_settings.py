"""Kafka client security from settings: production refuses an unauthenticated connection, SASL
needs a principal, and the one factory hands kafka-python exactly what the settings say."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from tanhui_shared.messaging.kafka import KafkaAccess, kafka_access
from tanhui_shared.messaging.kafka_security import service_passwords
from tanhui_shared.settings import KafkaSettings, ServiceSettings

DB = "postgresql+psycopg://u:p@db/x"


def test_production_refuses_plaintext_kafka(monkeypatch):
    for name in ("SECURITY_PROTOCOL", "SASL_USERNAME", "SASL_PASSWORD"):
        monkeypatch.delenv(f"TANHUI_KAFKA_{name}", raising=False)
    with pytest.raises(ValidationError, match="TANHUI_KAFKA_SECURITY_PROTOCOL must be SASL"):
        ServiceSettings(env="production", database_url=DB)
    ServiceSettings(env="production", database_url=DB, kafka_security_protocol="SASL_PLAINTEXT",
                    kafka_sasl_username="credits", kafka_sasl_password="s3cret-s3cret")
    ServiceSettings(env="test", database_url=DB)  # the local broker of tests stays PLAINTEXT


@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_without_a_principal_is_refused(missing):
    given = {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "credits",
             "kafka_sasl_password": "s3cret-s3cret", missing: ""}
    with pytest.raises(ValidationError, match="needs TANHUI_KAFKA_SASL_USERNAME"):
        KafkaSettings(**given)


def test_the_factory_passes_the_principal_from_the_environment(monkeypatch):
    for name, value in {"BOOTSTRAP": "kafka:9092", "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                        "SASL_MECHANISM": "SCRAM-SHA-512", "SASL_USERNAME": "credits",
                        "SASL_PASSWORD": "s3cret-s3cret"}.items():
        monkeypatch.setenv(f"TANHUI_KAFKA_{name}", value)
    access = KafkaAccess.from_settings(KafkaSettings())
    assert access.client_options() == {
        "bootstrap_servers": "kafka:9092", "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "credits",
        "sasl_plain_password": "s3cret-s3cret"}
    assert "s3cret" not in repr(access)
    # a bare address is the local broker: no credentials
    assert kafka_access("127.0.0.1:19092").client_options() == {
        "bootstrap_servers": "127.0.0.1:19092", "security_protocol": "PLAINTEXT"}


def test_the_bootstrap_takes_every_service_password_or_none():
    assert service_passwords({}) == {}
    with pytest.raises(RuntimeError, match="TANHUI_KAFKA_PASSWORD_CREDITS missing"):
        service_passwords({"TANHUI_KAFKA_PASSWORD_ACCOUNTS": "a", "TANHUI_KAFKA_PASSWORD_VERIFICATION": "v"})
