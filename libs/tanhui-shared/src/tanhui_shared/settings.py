"""Settings shared by every service process, read from `TANHUI_*` environment variables."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_VAR_DIR = REPO_ROOT / ".var"
DEFAULT_PG_PORT = 15432  # deploy/postgres.sh's cluster (TANHUI_PG_PORT)


def local_database_url(service: str, pg_port: int | str | None = None) -> str:
    """`service`'s database on the local cluster deploy/postgres.sh runs (`make up` creates it):
    role and password `tanhui`, database `tanhui_<service>`, port TANHUI_PG_PORT or 15432."""
    port = pg_port or os.environ.get("TANHUI_PG_PORT") or DEFAULT_PG_PORT
    return f"postgresql+psycopg://tanhui:tanhui@127.0.0.1:{port}/tanhui_{service}"


class KafkaSettings(BaseSettings):
    """How a process reaches Kafka, read by the one client factory (messaging/kafka.py) for its
    producers, consumers and admin clients alike."""

    model_config = SettingsConfigDict(env_prefix="TANHUI_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:19092"
    # PLAINTEXT: the local single-node broker of deploy/ (`make up`, tests), on 127.0.0.1 only.
    # Production: SASL with the service's own SCRAM principal, whose ACLs let it write only its
    # own topic (docker-compose.yml; deploy/kafka/kafka.sh with TANHUI_KAFKA_SECURE=1).
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # SASL_SSL: the CA file that signed the brokers' certificates (empty: the system's CAs)
    kafka_ssl_cafile: str = ""

    @model_validator(mode="after")
    def _sasl_needs_a_principal(self) -> "KafkaSettings":
        if self.kafka_security_protocol != "PLAINTEXT" and not (
                self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"TANHUI_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                             "TANHUI_KAFKA_SASL_USERNAME and TANHUI_KAFKA_SASL_PASSWORD")
        return self


class ServiceSettings(KafkaSettings):
    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = DEFAULT_VAR_DIR
    # PostgreSQL, always. Empty means, in development only, this service's database on the local
    # cluster of deploy/postgres.sh (`make up`): tanhui_<service> on 127.0.0.1:<pg_port>.
    database_url: str = ""
    pg_port: int = DEFAULT_PG_PORT
    # Prefix for every topic name; empty in production. Tests give each run its own.
    topic_namespace: str = ""
    log_level: str = "INFO"
    # JWT audience and issuer shared by the token issuer (accounts) and every verifier.
    jwt_issuer: str = "tanhui-accounts"
    jwt_audience: str = "tanhui"

    # Rows a relay claims, sends and marks at once when there is a backlog (fewer are claimed
    # when fewer wait). Each batch ends in a flush and a wait for the broker: at 500 the relay
    # spent much of a backlog waiting; at 2,000 the producer's 256 KiB batches begin to fill
    # and go out while the rest is still being handed over, as a plain producer's do.
    relay_batch_size: int = 2_000
    relay_idle_poll_s: float = 0.05
    consumer_max_attempts: int = 3
    consumer_backoff_s: float = 0.2
    consumer_session_timeout_ms: int = 10_000
    # Static group membership: give each consumer process a stable id (e.g. its pod name) and a
    # restart reclaims its partitions without waiting for the session to time out.
    consumer_instance_id: str | None = None
    # Prometheus metrics (and, in relays and consumers, /livez and /readyz) on a port of their
    # own, never the API's: none when unset. 127.0.0.1 unless a container must be scraped.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    # A relay or consumer whose loop has not turned for this long is not live (/livez 503).
    # Longer than the slowest pass that is still progress: a send to an absent broker waits
    # 15 s for metadata and 30 s for the flush (messaging/kafka.py, relay.py).
    worker_stall_s: float = 120.0
    # How often the loop measures the outbox backlog or the consumer lag (one bounded query or
    # one offsets request each time).
    metrics_sample_s: float = 5.0

    service_name: str = "service"

    @model_validator(mode="after")
    def _production_needs_real_infrastructure(self) -> "ServiceSettings":
        if self.env != "development" and not self.database_url:
            raise ValueError(
                "TANHUI_DATABASE_URL must be set outside development (the default, the local "
                "cluster of `make up`, is for a laptop only)"
            )
        if self.env == "production" and self.kafka_security_protocol == "PLAINTEXT":
            raise ValueError(
                "TANHUI_KAFKA_SECURITY_PROTOCOL must be SASL_PLAINTEXT or SASL_SSL in production: "
                "on PLAINTEXT any client could write any service's topic (see deploy/README.md)"
            )
        if self.database_url and not self.database_url.startswith("postgresql"):
            raise ValueError(f"TANHUI_DATABASE_URL must be a PostgreSQL URL "
                             f"(postgresql+psycopg://...), not {self.database_url.split(':')[0]}:...")
        return self

    def effective_database_url(self) -> str:
        return self.database_url or local_database_url(self.service_name, self.pg_port)
