"""Run the whole platform as local processes: `make up`, and the end-to-end tests.

Each service runs as three processes (API, outbox relay, consumer), plus the gateway and the
accounts' points-expiry job and the messaging tables' retention job: twelve in all.
Their logs go to `<var>/logs/<process>.log`. Each service has its own PostgreSQL database: for
`make up`, `tanhui_<service>` on the local cluster deploy/postgres.sh runs (created if missing).
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
from .settings import DEFAULT_VAR_DIR, REPO_ROOT, local_database_url

SERVICES = {"accounts": 8101, "verification": 8102, "credits": 8103}
GATEWAY_PORT = 8000
# The gateway's Prometheus metrics, on a port of their own bound to 127.0.0.1: never served to
# the public clients of GATEWAY_PORT (gateway/README.md).
METRICS_PORT = 8009
# Each service process's metrics port (and a relay's or consumer's /livez and /readyz): its API
# port plus these, e.g. accounts 8101 -> API metrics 8111, relay 8121, consumer 8131.
METRICS_OFFSETS = {"api": 10, "relay": 20, "consumer": 30}
# The periodic jobs' metrics ports: the gateway's port plus these (`make up`: 8007 and 8008).
JOB_METRICS_OFFSETS = {"accounts-expiry-job": 7, "retention-job": 8}


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
    # service -> PostgreSQL URL; a service left out gets its settings' default (development: the
    # local cluster's tanhui_<service>)
    database_urls: dict[str, str] = field(default_factory=dict)
    var_dir: Path = DEFAULT_VAR_DIR
    gateway_port: int = GATEWAY_PORT
    service_ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    extra_env: dict[str, str] = field(default_factory=dict)
    # process kind -> offset from the service's port of its metrics port; None: no metrics ports
    metrics_offsets: dict[str, int] | None = None
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

    def metrics_port(self, service: str, kind: str) -> int | None:
        """The metrics port of `service`'s `kind` process (api, relay or consumer)."""
        if self.metrics_offsets is None:
            return None
        return self.service_ports[service] + self.metrics_offsets[kind]

    def process_env(self, service: str, kind: str) -> dict[str, str]:
        metrics = self.metrics_port(service, kind)
        return {**self.service_env(service),
                **({"TANHUI_METRICS_PORT": str(metrics)} if metrics else {})}

    def job_metrics_env(self, job: str) -> dict[str, str]:
        if self.metrics_offsets is None:
            return {}
        return {"TANHUI_METRICS_PORT": str(self.gateway_port + JOB_METRICS_OFFSETS[job])}

    def plan(self) -> list[Process]:
        py = sys.executable
        procs = []
        for svc, port in self.service_ports.items():
            pkg = f"tanhui_{svc}"
            env = {kind: self.process_env(svc, kind) for kind in ("api", "relay", "consumer")}
            procs += [
                Process(f"{svc}-api", [py, "-m", "uvicorn", f"{pkg}.app:create_app", "--factory",
                                       "--host", "127.0.0.1", "--port", str(port),
                                       "--no-access-log"], env["api"]),
                Process(f"{svc}-relay", [py, "-m", f"{pkg}.relay"], env["relay"]),
                Process(f"{svc}-consumer", [py, "-m", f"{pkg}.consumer"], env["consumer"]),
            ]
        # The citizens' points expire on a schedule, not only when someone redeems: hourly is
        # far finer than the validity (years) and the 30-day notice the account view shows.
        procs.append(Process("accounts-expiry-job",
                             [py, "-m", "tanhui_accounts.cli", "expire-points", "--every", "3600"],
                             {**self.service_env("accounts"),
                              **self.job_metrics_env("accounts-expiry-job")}))
        # Published outbox rows, old inbox rows and idempotency records pruned hourly, for the
        # three databases in one process (messaging/retention.py says why each age is safe).
        procs.append(Process("retention-job",
                             [py, "-m", "tanhui_shared.messaging.retention", *self.service_ports,
                              "--every", "3600"],
                             {**os.environ, **self.extra_env,
                              **{f"TANHUI_{s.upper()}_DATABASE_URL": self.database_urls.get(s, "")
                                 for s in self.service_ports},
                              **self.job_metrics_env("retention-job")}))
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
        """Upgrade each service's database to head, in this process and one after the other
        (Alembic's context is process-global): a third of the time and a quarter of the CPU of
        one `python -m tanhui_<service>.migrate` each, which would import every service's app."""
        from .db import migrate

        for svc in self.service_ports:
            url = self.database_urls.get(svc) or local_database_url(svc)
            try:
                migrate(url, REPO_ROOT / "services" / svc / "migrations")
            except Exception as exc:  # whichever failure: say which service
                raise RuntimeError(f"migrating {svc} failed: {exc.__class__.__name__}: {exc}") from exc

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

    def dead(self) -> list[str]:
        """The processes that were started and have exited."""
        return [p.name for p in self.processes.values() if p.popen and p.popen.poll() is not None]

    def wait_ready(self, timeout_s: float = 90) -> float:
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < timeout_s:
            dead = self.dead()
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited; see {self.var_dir / 'logs'}")
            try:
                # deep: every service and Redis ready too, not only the gateway itself
                reply = httpx.get(self.gateway_url + "/readyz?deep=true", timeout=2)
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


# name -> (script under deploy/, what to do when it fails; {var} is deploy/'s data directory)
SERVERS = {
    "PostgreSQL": ("postgres.sh", "see the lines above and {var}/postgres/postgres.log; is the "
                                  "`postgresql` package installed (deploy/system-packages.sh up)?"),
    "Kafka": ("kafka/kafka.sh", "see the lines above and {var}/kafka/logs/server.log; is a JDK "
                                "17+ and Maven installed (deploy/system-packages.sh up)?"),
    "Redis": ("redis.sh", "see the lines above and {var}/redis/redis.log; is the `redis-server` "
                          "package installed (deploy/system-packages.sh up)?"),
}


def _var_dir() -> Path:
    return Path(os.environ.get("TANHUI_VAR") or DEFAULT_VAR_DIR)  # as deploy/lib.sh has it


def start_servers(names: list[str]) -> None:
    """Start deploy/'s servers side by side (Kafka's JVM is the slow one) and wait until each
    answers; a server that already runs (e.g. for `make test`) is reused."""
    if not names:
        return

    def start(name: str) -> str | None:
        script, advice = SERVERS[name]
        if _deploy(script, "start") != 0 or _deploy(script, "wait") != 0:
            return f"{name} did not start: {advice.format(var=_var_dir())}"
        return None

    with ThreadPoolExecutor(len(names)) as pool:
        errors = [e for e in pool.map(start, names) if e]
    if errors:
        sys.exit("\n".join(f"[tanhui] {e}" for e in errors))


def create_databases(urls: list[str]) -> list[str]:
    """Create each URL's database on its server if missing (as the URL's user, who must be allowed
    to); returns the names created."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    created = []
    for url in urls:
        target = make_url(url)
        admin = sa.create_engine(target.set(database="postgres"),
                                 isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                      {"d": target.database}).first()
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
                    created.append(target.database)
        except sa.exc.ProgrammingError as exc:
            if "already exists" not in str(exc):  # another `make up` created it meanwhile
                raise
        finally:
            admin.dispose()
    return created


def up() -> None:
    """`make up`: PostgreSQL, Kafka and Redis from deploy/, a database per service, every
    process; Ctrl-C stops the processes (the servers keep running for the next start and for
    `make test`; `make down` stops them)."""
    started = time.monotonic()
    bootstrap = os.environ.get("TANHUI_KAFKA_BOOTSTRAP")
    redis_url = os.environ.get("TANHUI_REDIS_URL", "")
    given = {s: os.environ.get(f"TANHUI_{s.upper()}_DATABASE_URL", "") for s in SERVICES}
    local = {s: local_database_url(s) for s in SERVICES if not given[s]}
    wanted = [name for name, needed in (("PostgreSQL", bool(local)), ("Kafka", not bootstrap),
                                        ("Redis", not redis_url)) if needed]
    if wanted:
        _step(f"starting {', '.join(wanted)} from deploy/ (a running one is reused; the first run "
              "creates them under .var/ and downloads Kafka's jars)...")
    start_servers(wanted)
    bootstrap = bootstrap or f"127.0.0.1:{os.environ.get('TANHUI_KAFKA_PORT', '19092')}"
    redis_url = redis_url or f"redis://127.0.0.1:{os.environ.get('TANHUI_REDIS_PORT', '16379')}/0"
    database_urls = {**given, **local}
    if local:
        try:
            created = create_databases(list(local.values()))
        except Exception as exc:  # noqa: BLE001 - any failure here is reported the same way
            sys.exit(f"[tanhui] could not create the services' databases: {exc}\n[tanhui] is "
                     "the server on that port deploy/postgres.sh's? `deploy/postgres.sh status`; "
                     f"its log: {_var_dir()}/postgres/postgres.log")
        _step(f"databases on the local cluster: {', '.join('tanhui_' + s for s in local)}"
              + (f" (created: {', '.join(created)})" if created else " (present)"))
    namespace = os.environ.get("TANHUI_TOPIC_NAMESPACE", "")
    _step(f"creating topics on {bootstrap}...")
    ensure_topics(bootstrap, namespace)
    metrics_port = os.environ.get("TANHUI_GATEWAY_METRICS_PORT", str(METRICS_PORT))
    stack = Stack(kafka_bootstrap=bootstrap, redis_url=redis_url, database_urls=database_urls,
                  var_dir=_var_dir(), extra_env={"TANHUI_GATEWAY_METRICS_PORT": metrics_port},
                  metrics_offsets=METRICS_OFFSETS)
    _step("migrating the three services' databases...")
    step_started = time.monotonic()
    try:
        stack.migrate()
    except RuntimeError as exc:
        sys.exit(f"[tanhui] {exc}")
    _step(f"migrated in {time.monotonic() - step_started:.1f}s; starting 3 services x (API, relay, "
          "consumer) and the gateway...")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the same way as on Ctrl-C
    stack.start()
    failed: list[str] = []  # the processes that exited on their own
    try:
        stack.wait_ready()
        _step(f"ready in {time.monotonic() - started:.1f}s: gateway at {stack.gateway_url}, "
              f"its metrics at http://127.0.0.1:{metrics_port}/metrics, each service's on its "
              f"port +10 (API), +20 (relay), +30 (consumer), the jobs' on {stack.gateway_port + 7} (expiry) and {stack.gateway_port + 8} (retention) (logs: {stack.var_dir / 'logs'}). Ctrl-C stops it.")
        while all(p.popen and p.popen.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        failed = stack.dead()
        _step(f"{', '.join(failed)} exited; stopping everything")
    except KeyboardInterrupt:
        _step("stopping...")
    except (RuntimeError, TimeoutError) as exc:
        failed = stack.dead() or ["gateway"]
        _step(f"not ready: {exc}")
    finally:
        # A second Ctrl-C (or the one uv forwards) must not cut the orderly stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        _step(f"stopped. {', '.join(wanted)} keep running, for the next `make up` and for "
              "`make test`: `make down` stops them." if wanted else "stopped.")
    if failed:
        for name in failed:
            log = stack.var_dir / "logs" / f"{name}.log"
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            print(f"----- last lines of {log} -----", *tail, "-----", sep="\n", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description="run the tanhui platform locally")
    parser.add_argument("command", choices=["up"])
    parser.parse_args()
    up()


if __name__ == "__main__":
    main()
