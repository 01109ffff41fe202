"""Servers of a fault test's own, started from deploy/ on free ports, so breaking them on purpose
never disturbs the infrastructure the other tests share."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tanhui_shared.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DeployedServer:
    """One of deploy/'s servers (kafka/kafka.sh, postgres.sh) with its own ports and data."""

    def __init__(self, script: str, var_dir: Path, **ports: int) -> None:
        self.script = str(REPO_ROOT / "deploy" / script)
        self.env = {**os.environ, "TANHUI_VAR": str(var_dir), **{k: str(v) for k, v in ports.items()}}

    def run(self, command: str, check: bool = True, **extra_env: str) -> None:
        result = subprocess.run([self.script, command], env={**self.env, **extra_env},
                                stdout=sys.stderr, stderr=sys.stderr)
        assert result.returncode == 0 or not check, f"{self.script} {command} failed"

    def start(self) -> None:
        self.run("start")
        self.run("wait")

    def stop(self, **extra_env: str) -> None:
        self.run("stop", **extra_env)

    def ensure_stopped(self) -> None:
        """For `finally:` blocks: stop it if it runs, and never mask the test's own failure."""
        self.run("stop", check=False)


def private_kafka(var_dir: Path) -> tuple[str, DeployedServer]:
    port = free_port()
    server = DeployedServer("kafka/kafka.sh", var_dir, TANHUI_KAFKA_PORT=port,
                            TANHUI_KAFKA_CONTROLLER_PORT=free_port())
    server.start()
    return f"127.0.0.1:{port}", server


def private_postgres(var_dir: Path) -> tuple[str, DeployedServer]:
    port = free_port()
    server = DeployedServer("postgres.sh", var_dir, TANHUI_PG_PORT=port)
    server.start()
    return f"postgresql+psycopg://tanhui:tanhui@127.0.0.1:{port}/tanhui", server


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2) -> float:
    """Seconds until `condition()` held; fails the test after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not reached in {timeout_s:.0f}s")
        time.sleep(poll_s)
    return time.monotonic() - started


def report(name: str, **figures) -> None:
    """Each fault test prints its figures, so the run log reads as a report."""
    parts = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"\n[fault:{name}] {parts}", flush=True)
