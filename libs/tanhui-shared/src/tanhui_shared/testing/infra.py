"""Where the tests' Kafka, PostgreSQL and Redis come from, in one order for every test:

1. `TANHUI_KAFKA_BOOTSTRAP`, `TANHUI_DATABASE_URL`, `TANHUI_REDIS_URL` when set;
2. else testcontainers, when a Docker engine answers;
3. else the local servers that `deploy/infra.sh` starts (Debian's PostgreSQL and Redis, Kafka
   from Maven Central jars).

A server that cannot be had is an error that says what to do; a test is never silently skipped.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass, field

from ..settings import REPO_ROOT


class InfrastructureUnavailable(RuntimeError):
    pass


@dataclass
class Infrastructure:
    kafka_bootstrap: str
    database_url: str  # a superuser URL on the server: tests create their own databases from it
    redis_url: str
    source: str
    _containers: list = field(default_factory=list, repr=False)

    def close(self) -> None:
        for container in self._containers:
            container.stop()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "no"
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _from_containers() -> Infrastructure:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    # The same apache/kafka image as docker-compose.yml; its advertised address must be known
    # before it starts, so the host port is chosen here rather than by Docker.
    port = _free_port()
    kafka = DockerContainer("apache/kafka:4.1.1").with_bind_ports(9092, port)
    for key, value in {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }.items():
        kafka.with_env(key, value)
    postgres = PostgresContainer("postgres:16", driver="psycopg")
    redis = RedisContainer("redis:7")
    for container in (kafka, postgres, redis):
        container.start()
    wait_for_logs(kafka, "Kafka Server started", timeout=120)
    host, redis_port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
    return Infrastructure(f"127.0.0.1:{port}", postgres.get_connection_url(),
                          f"redis://{host}:{redis_port}/0", "testcontainers", [kafka, postgres, redis])


def _from_deploy_scripts() -> Infrastructure:
    script = REPO_ROOT / "deploy" / "infra.sh"
    print("\n[infra] no env vars and no Docker engine: starting local servers with deploy/infra.sh",
          file=sys.stderr, flush=True)
    # Test runs started at once each ask for the servers: one at a time, so only the first
    # starts them and the others find them running.
    lock_path = REPO_ROOT / ".var" / "infra-up.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        up = subprocess.run([str(script), "up"], stdout=sys.stderr, stderr=sys.stderr)
    if up.returncode != 0:
        raise InfrastructureUnavailable(
            "deploy/infra.sh up failed (see its output above). Install the servers with "
            "`apt-get install -y postgresql redis-server` and a JDK 17, or set "
            "TANHUI_KAFKA_BOOTSTRAP / TANHUI_DATABASE_URL / TANHUI_REDIS_URL."
        )
    env = subprocess.run([str(script), "env"], capture_output=True, text=True, check=True).stdout
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in env.splitlines() if "=" in line
    )
    return Infrastructure(values["TANHUI_KAFKA_BOOTSTRAP"], values["TANHUI_DATABASE_URL"],
                          values["TANHUI_REDIS_URL"], "deploy/infra.sh")


def provide_infrastructure() -> Infrastructure:
    names = ("TANHUI_KAFKA_BOOTSTRAP", "TANHUI_DATABASE_URL", "TANHUI_REDIS_URL")
    given = [n for n in names if os.environ.get(n)]
    if len(given) == len(names):
        return Infrastructure(*(os.environ[n] for n in names), source="environment")
    if given:
        missing = ", ".join(sorted(set(names) - set(given)))
        raise InfrastructureUnavailable(f"set all three infrastructure env vars or none ({missing} missing)")
    if _docker_answers():
        return _from_containers()
    return _from_deploy_scripts()
