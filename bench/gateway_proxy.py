"""What the gateway costs: one read route three ways in one run, on the same accounts API.

  direct    client -> accounts API
  nginx     client -> nginx (Debian's, reverse proxy with upstream keep-alive) -> accounts API
  gateway   client -> tanhui gateway (token-free public route: routing, rate limit in Redis,
            header cleaning, access log, metrics) -> accounts API

The route is GET /api/v1/factors (the emission-factor library, read from PostgreSQL) and, as a
second, service-cheap figure, GET /.well-known/jwks.json. The load generator is asyncio on raw
keep-alive connections (HTTP/1.1, no client library), so it costs far less than the servers it
measures. For each path: maximum throughput with CONNECTIONS closed-loop connections, then
p50/p99 at half the gateway's maximum rate (paced), so the latency added is compared at a load
every path can sustain.

Each figure is measured in rounds: every round measures the four paths one after the other,
the order reversed every other round, and a figure is the median over the rounds (an added p99
is the median of the rounds' differences, each from one round's pair). One 6 s measurement per
path gave a p99 of ~970 requests, the ~10th slowest: one stall of the shared 2-core machine (a
neighbour's burst, a collector pass) moved it by tens of ms (jwks, 2 workers: +68 ms in one
pass, +2 in the next), and the paths measured first and last saw different loads. Short
measurements in rotation put each path beside the others at every moment of the run, and a
median ignores the round a stall hit; more requests in total (ROUNDS x PACED_S) than before.

Run: `uv run python bench/gateway_proxy.py` (needs PostgreSQL and Redis: `deploy/infra.sh up`).
"""
from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))
from common import (RESULTS, free_port, fresh_database, machine, percentile, progress,  # noqa: E402
                    provide_infrastructure, start_accounts, wait_for)

CONNECTIONS = 16
DURATION_S = 4.0  # one measurement at maximum throughput
MAX_ROUNDS = 3
PACED_S = 5.0  # one paced measurement (~800 requests at 160/s)
PACED_ROUNDS = 5
NGINX = "/usr/sbin/nginx"


def start_gateway(accounts: str, redis_url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TANHUI_ACCOUNTS_URL": accounts, "TANHUI_REDIS_URL": redis_url,
           # the other services are not part of this measurement
           "TANHUI_VERIFICATION_URL": accounts, "TANHUI_CREDITS_URL": accounts,
           "TANHUI_RATE_LIMIT_READ": "100000000", "TANHUI_RATE_LIMIT_PREFIX": f"bench{port}"}
    with open(log, "ab") as out:  # one JSON access-log line per request, as in production
        proc = subprocess.Popen([sys.executable, "-m", "tanhui_gateway", "--port", str(port),
                                 "--workers", str(workers)], env=env, cwd=REPO_ROOT,
                                stdout=out, stderr=out)
    wait_for(f"http://127.0.0.1:{port}/healthz", "the gateway")
    return proc


def start_nginx(accounts_port: int, port: int, workdir: Path) -> subprocess.Popen:
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/body; proxy_temp_path {workdir}/proxy;
  fastcgi_temp_path {workdir}/fastcgi; uwsgi_temp_path {workdir}/uwsgi; scgi_temp_path {workdir}/scgi;
  upstream accounts {{ server 127.0.0.1:{accounts_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://accounts;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
""")
    proc = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")])
    wait_for(f"http://127.0.0.1:{port}/healthz", "nginx")
    return proc


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(port: int, path: str, duration_s: float, connections: int,
               rate: float | None = None) -> tuple[float, list[float], int]:
    """(requests/s, latencies in ms, non-200 count). `rate` paces the whole client (open loop per
    connection: each sends on its own schedule, and late sends are measured from the schedule)."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def connection(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        interval = connections / rate if rate else 0.0
        next_at = time.perf_counter() + (interval * index / connections if rate else 0.0)
        while True:
            if rate:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            started = next_at if rate else time.perf_counter()
            if time.perf_counter() >= deadline:
                break
            if await _exchange(reader, writer, request) != 200:
                errors += 1
            latencies.append((time.perf_counter() - max(started, deadline - duration_s)) * 1000)
            next_at += interval
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(connections)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children (nginx's worker,
    uvicorn's workers): what the machine's load does not change, unlike the rates."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_s(int(child)) for child in children)


def measure(port: int, path: str, rate: float | None = None, pid: int | None = None,
            duration_s: float = DURATION_S) -> tuple[float, float, float, int, float]:
    """(requests/s, p50, p99, non-200 count, CPU ms per request of process `pid` and children)."""
    asyncio.run(load(port, path, 1.0, CONNECTIONS, rate))  # warm-up: connections, caches
    cpu = tree_cpu_s(pid) if pid else 0.0
    rps, latencies, errors = asyncio.run(load(port, path, duration_s, CONNECTIONS, rate))
    cpu_ms = (tree_cpu_s(pid) - cpu) * 1000 / len(latencies) if pid else 0.0
    return rps, percentile(latencies, 50), percentile(latencies, 99), errors, cpu_ms


def in_rounds(targets: list, rounds: int, path: str, rate: float | None = None,
              duration_s: float = DURATION_S) -> dict[str, list[tuple[float, float, float, int, float]]]:
    """Each target measured once a round, in the targets' order and then reversed (see above)."""
    results: dict[str, list] = {name: [] for name, _, _ in targets}
    for round_ in range(rounds):
        for name, port, pid in (targets if round_ % 2 == 0 else targets[::-1]):
            results[name].append(measure(port, path, rate, pid, duration_s))
            rps, p50, p99, errors, cpu = results[name][-1]
            progress(f"{path} {name}{f' at {rate:,.0f}/s' if rate else ''}, round {round_ + 1}/{rounds}: "
                     f"{rps:,.0f}/s p50 {p50:.2f} ms p99 {p99:.2f} ms ({errors} non-200)"
                     + (f", proxy CPU {cpu:.2f} ms/request" if pid and not rate else ""))
    return results


def median_of(runs: list[tuple], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def main() -> None:
    infra = provide_infrastructure()
    database = fresh_database(infra.database_url, "accounts")
    workdir = Path(tempfile.mkdtemp(prefix="tanhui-bench-gw-"))
    ports = {name: free_port() for name in ("accounts", "nginx", "gateway", "gateway2")}
    procs = []
    rows: list[str] = []
    try:
        procs.append(start_accounts(database, ports["accounts"]))
        accounts = f"http://127.0.0.1:{ports['accounts']}"
        procs.append(start_nginx(ports["accounts"], ports["nginx"], workdir))
        procs.append(start_gateway(accounts, infra.redis_url, ports["gateway"], 1, workdir / "gw1.log"))
        procs.append(start_gateway(accounts, infra.redis_url, ports["gateway2"], 2, workdir / "gw2.log"))
        targets = [("direct (accounts API)", ports["accounts"], None),
                   ("nginx", ports["nginx"], procs[1].pid),
                   ("gateway, 1 worker", ports["gateway"], procs[2].pid),
                   ("gateway, 2 workers", ports["gateway2"], procs[3].pid)]
        for path in ("/api/v1/factors", "/.well-known/jwks.json"):
            at_max = in_rounds(targets, MAX_ROUNDS, path)
            peak = {name: median_of(runs, 0) for name, runs in at_max.items()}
            cpu = {name: median_of(runs, 4) for name, runs in at_max.items()}
            rate = peak["gateway, 1 worker"] / 2
            paced = in_rounds(targets, PACED_ROUNDS, path, rate, PACED_S)
            direct = paced["direct (accounts API)"]
            added = {name: statistics.median(run[2] - base[2] for run, base in zip(runs, direct, strict=True))
                     for name, runs in paced.items()}
            rows.append(f"\n### GET {path}\n\n| path | max throughput (median of {MAX_ROUNDS}) | "
                        f"p50 / p99 at max | p50 / p99 at {rate:,.0f}/s (half the 1-worker gateway's "
                        f"max; medians of {PACED_ROUNDS} x {PACED_S:.0f} s) | p99 added over direct, "
                        f"median of the rounds' differences | proxy CPU per request at max |"
                        f"\n|---|---|---|---|---|---|")
            for name, _, pid in targets:
                rows.append(f"| {name} | {peak[name]:,.0f}/s (spread {min(r[0] for r in at_max[name]):,.0f}-"
                            f"{max(r[0] for r in at_max[name]):,.0f}) | "
                            f"{median_of(at_max[name], 1):.2f} / {median_of(at_max[name], 2):.2f} ms | "
                            f"{median_of(paced[name], 1):.2f} / {median_of(paced[name], 2):.2f} ms (p99s: "
                            f"{', '.join(f'{r[2]:.1f}' for r in paced[name])}) | "
                            f"{'-' if name.startswith('direct') else f'{added[name]:+.2f} ms'} | "
                            f"{f'{cpu[name]:.2f} ms' if pid else '-'} |")
            rows.append(f"\nGateway (1 worker) / nginx max throughput: "
                        f"{peak['gateway, 1 worker'] / peak['nginx']:.2f}; "
                        f"2 workers / nginx: {peak['gateway, 2 workers'] / peak['nginx']:.2f}; "
                        f"2 workers / 1 worker: {peak['gateway, 2 workers'] / peak['gateway, 1 worker']:.2f}. "
                        f"p99 added over direct at {rate:,.0f}/s: gateway 1 worker "
                        f"{added['gateway, 1 worker']:+.2f} ms, 2 workers "
                        f"{added['gateway, 2 workers']:+.2f} ms, nginx "
                        f"{added['nginx']:+.2f} ms. Proxy CPU per request, gateway "
                        f"1 worker / nginx: {cpu['gateway, 1 worker'] / cpu['nginx']:.1f}x. "
                        f"Load average (1 min) after this route: {os.getloadavg()[0]:.1f}.")
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    report = (f"# Gateway proxy benchmark\n\nMachine: {machine()}; everything (load generator, "
              f"nginx, gateway, accounts API, PostgreSQL, Redis) on the same machine. "
              f"{CONNECTIONS} keep-alive connections, each measurement after 1 s of warm-up: "
              f"{MAX_ROUNDS} rounds of {DURATION_S:.0f} s at maximum throughput, {PACED_ROUNDS} of "
              f"{PACED_S:.0f} s paced, the paths in rotation; accounts API: one uvicorn worker.\n" + "\n".join(rows) + "\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gateway_proxy.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
