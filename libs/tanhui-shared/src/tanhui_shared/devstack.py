"""Run the whole platform as local processes: `make up`, and the end-to-end tests.

Each service runs as three processes (API, outbox relay, consumer), plus the gateway: ten in all.
Their logs go to `<var>/logs/<process>.log`.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .messaging.kafka import ensure_topics
from .settings import DEFAULT_VAR_DIR, REPO_ROOT

SERVICES = {"accounts": 8101, "verification": 8102, "credits": 8103}
GATEWAY_PORT = 8000


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    popen: subprocess.Popen | None = None


@dataclass
class Stack:
    kafka_bootstrap: str
    redis_url: str = ""  # the gateway's rate limits; empty = the gateway's own default
    database_urls: dict[str, str] = field(default_factory=dict)  # service -> URL; "" = SQLite
    var_dir: Path = DEFAULT_VAR_DIR
    gateway_port: int = GATEWAY_PORT
    service_ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def service_env(self, service: str) -> dict[str, str]:
        env = {**os.environ, **self.extra_env,
               "TANHUI_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
               "TANHUI_VAR_DIR": str(self.var_dir),
               "TANHUI_DATABASE_URL": self.database_urls.get(service, "")}
        return env

    def plan(self) -> list[Process]:
        py = sys.executable
        procs = []
        for svc, port in self.service_ports.items():
            env = self.service_env(svc)
            pkg = f"tanhui_{svc}"
            procs += [
                Process(f"{svc}-api", [py, "-m", "uvicorn", f"{pkg}.app:create_app", "--factory",
                                       "--host", "127.0.0.1", "--port", str(port),
                                       "--no-access-log"], env),
                Process(f"{svc}-relay", [py, "-m", f"{pkg}.relay"], env),
                Process(f"{svc}-consumer", [py, "-m", f"{pkg}.consumer"], env),
            ]
        gw_env = {**os.environ, **self.extra_env,
                  **{f"TANHUI_{s.upper()}_URL": f"http://127.0.0.1:{p}"
                     for s, p in self.service_ports.items()}}
        if self.redis_url:
            gw_env["TANHUI_REDIS_URL"] = self.redis_url
        # the gateway's own entry point: uvicorn's X-Forwarded-For trust switched off
        procs.append(Process("gateway", [py, "-m", "tanhui_gateway", "--host", "127.0.0.1",
                                         "--port", str(self.gateway_port)], gw_env))
        return procs

    def migrate(self) -> None:
        def run(svc: str) -> None:
            result = subprocess.run([sys.executable, "-m", f"tanhui_{svc}.migrate"],
                                    env=self.service_env(svc), capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"migrating {svc} failed:\n{result.stderr[-3000:]}")

        with ThreadPoolExecutor(len(self.service_ports)) as pool:
            list(pool.map(run, self.service_ports))

    def start(self, only: list[str] | None = None) -> None:
        log_dir = self.var_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for proc in self.plan():
            if only is not None and proc.name not in only:
                continue
            self.processes[proc.name] = proc
            self.start_process(proc.name)

    def start_process(self, name: str) -> None:
        proc = self.processes[name]
        log = open(self.var_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc.popen = subprocess.Popen(proc.argv, env=proc.env, stdout=log, stderr=log,
                                      cwd=REPO_ROOT, start_new_session=True)
        log.close()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        popen = self.processes[name].popen
        if popen and popen.poll() is None:
            popen.send_signal(sig)
            popen.wait(timeout=15)

    def wait_ready(self, timeout_s: float = 90) -> float:
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < timeout_s:
            dead = [p.name for p in self.processes.values() if p.popen and p.popen.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited; see {self.var_dir / 'logs'}")
            try:
                reply = httpx.get(self.gateway_url + "/readyz", timeout=2)
                if reply.status_code == 200:
                    return time.monotonic() - started
                last = reply.text
            except httpx.HTTPError as exc:
                last = exc.__class__.__name__
            time.sleep(0.3)
        raise TimeoutError(f"gateway not ready after {timeout_s:.0f}s (last: {last}); "
                           f"see {self.var_dir / 'logs'}")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.popen and proc.popen.poll() is None:
                proc.popen.terminate()
        deadline = time.monotonic() + 10
        for proc in self.processes.values():
            if proc.popen:
                try:
                    proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait()


def _step(message: str) -> None:
    print(f"[tanhui] {message}", flush=True)


def _deploy(script: str, command: str) -> int:
    return subprocess.run([str(REPO_ROOT / "deploy" / script), command]).returncode


def _kafka(command: str) -> int:
    return _deploy("kafka/kafka.sh", command)


def up() -> None:
    """`make up`: Kafka from deploy/, SQLite databases, every process; Ctrl-C stops it all."""
    started = time.monotonic()
    bootstrap = os.environ.get("TANHUI_KAFKA_BOOTSTRAP")
    started_kafka = False
    if not bootstrap:
        started_kafka = _kafka("status") != 0
        if started_kafka:
            _step("starting Kafka (deploy/kafka/kafka.sh; the first run downloads its jars)...")
            if _kafka("start") != 0:
                sys.exit("[tanhui] Kafka did not start: see the lines above")
        if _kafka("wait") != 0:
            sys.exit("[tanhui] Kafka is not answering: `deploy/kafka/kafka.sh restart`, then retry")
        bootstrap = f"127.0.0.1:{os.environ.get('TANHUI_KAFKA_PORT', '19092')}"
    redis_url = os.environ.get("TANHUI_REDIS_URL", "")
    started_redis = False
    if not redis_url:
        started_redis = _deploy("redis.sh", "status") != 0
        if started_redis and (_deploy("redis.sh", "start") != 0 or _deploy("redis.sh", "wait") != 0):
            sys.exit("[tanhui] Redis did not start: `apt-get install redis-server`, then retry")
        redis_url = f"redis://127.0.0.1:{os.environ.get('TANHUI_REDIS_PORT', '16379')}/0"
    namespace = os.environ.get("TANHUI_TOPIC_NAMESPACE", "")
    _step(f"creating topics on {bootstrap}...")
    ensure_topics(bootstrap, namespace)
    stack = Stack(kafka_bootstrap=bootstrap, redis_url=redis_url,
                  database_urls={s: os.environ.get(f"TANHUI_{s.upper()}_DATABASE_URL", "")
                                 for s in SERVICES})
    _step("migrating the three services' databases (SQLite under .var/ unless configured)...")
    stack.migrate()
    _step("starting 3 services x (API, relay, consumer) and the gateway...")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the same way as on Ctrl-C
    stack.start()
    try:
        stack.wait_ready()
        _step(f"ready in {time.monotonic() - started:.1f}s: gateway at {stack.gateway_url} "
              f"(logs: {stack.var_dir / 'logs'}). Ctrl-C stops everything.")
        while all(p.popen and p.popen.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        dead = [p.name for p in stack.processes.values() if p.popen and p.popen.poll() is not None]
        _step(f"{', '.join(dead)} exited; stopping everything (see {stack.var_dir / 'logs'})")
    except KeyboardInterrupt:
        _step("stopping...")
    finally:
        # A second Ctrl-C (or the one uv forwards) must not cut the orderly stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        if started_kafka:
            _kafka("stop")
        if started_redis:
            _deploy("redis.sh", "stop")
        _step("stopped.")


def main() -> None:
    parser = argparse.ArgumentParser(description="run the tanhui platform locally")
    parser.add_argument("command", choices=["up"])
    parser.parse_args()
    up()


if __name__ == "__main__":
    main()
