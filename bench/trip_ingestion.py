"""Green-trip ingestion into the points ledger on PostgreSQL (issue 3's benchmark).

1. Batch path: `record_trips` with transit operators' 10,000-record batches (history read, rules,
   COPY of trips and ledger entries, balance updates, one transaction), beside a raw COPY of the
   same rows into a bare table in the same run: the ratio is what the rules and the ledger cost.
2. The same batches through HTTP: a real uvicorn accounts API, POST /api/v1/trips/batch. The
   paths of 1 and 2 take turns batch by batch, so their ratios hold on a shared machine.
3. Single-trip requests: POST /api/v1/trips from 8 client threads, through the platform's gateway
   and direct: the maximum rate, then p50/p99 at half of it.

Run: `make bench` (or `uv run python bench/trip_ingestion.py`). With
TANHUI_BENCH_TRIPS_BASELINE=<a work tree of an earlier commit>, the single trips are also measured,
side by side in the same run, against that tree's accounts API and gateway (on uvicorn's h11
parser, as before httptools was a dependency) on a database its own migrations made. With
TANHUI_BENCH_TRIPS_ONLY=single only part 3 runs (the batch rows of the report are left out); with
TANHUI_BENCH_TRIPS_ONLY=ledger only part 1 (the ledger path and its floor: printed, not saved); with
TANHUI_BENCH_TRIPS_ONLY=batch parts 1 and 2 (printed, not saved).
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlmodel import Session

from tanhui_accounts.domain.accreditation import Terms
from tanhui_accounts.domain.identity import Role
from tanhui_accounts.domain.travel import Mode, travel_rules
from tanhui_accounts.domain.trip_batch import TripClaim
from tanhui_accounts.store.tables import PointsAccount, User
from tanhui_accounts.store.trips import record_trips
from tanhui_accounts.usecases.accreditation import grant_accreditation, new_credentials
from tanhui_shared.db import make_engine
from tanhui_shared.uow import in_unit_of_work
from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))
from common import (KEY_FILE, RESULTS, empty_database, free_port, fresh_database, machine,  # noqa: E402
                    percentile, progress, provide_infrastructure, start_accounts,
                    summary, wait_for)

BATCH = 10_000
RUNS = 11  # batch runs per path (the ledger path's batches take days 100.., HTTP's 200..)
CITIZENS = 2_000
# The batches replay a season of feeds (days DAY0 .. DAY0 + 204), so the bench runs with the
# widest claim window the platform allows instead of the default 7 days.
WINDOW_DAYS = 366
RULES = travel_rules(WINDOW_DAYS)
DAY0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=330)


def seed_citizens(engine, count: int) -> list[tuple[str, str]]:
    users = [User(username=f"bench-{i}-{uuid.uuid4().hex[:6]}", password_hash="-", role="citizen")
             for i in range(count)]
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(users)
        session.flush()
        session.add_all(PointsAccount(user_id=u.id) for u in users)
    return [(u.id, u.username) for u in users]


def batch_rows(citizens, run: int) -> list[tuple]:
    """10,000 metro rides, 5 per citizen per day, on a day of their own per run."""
    day = DAY0 + timedelta(days=run)
    rows = []
    for i in range(BATCH):
        user_id, username = citizens[i % len(citizens)]
        start = day + timedelta(minutes=40 * (i // len(citizens)))
        rows.append((user_id, username, start, start + timedelta(minutes=25), f"card-{run}-{i}"))
    return rows


def claims_of(rows) -> list[TripClaim]:
    return [TripClaim(i, user_id, Mode.METRO, Decimal("12.5"), start, end, ext)
            for i, (user_id, _, start, end, ext) in enumerate(rows)]


def raw_copy(engine, rows) -> float:
    """The floor: the same rows COPYed into a bare table, no rules, no ledger."""
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS bench_raw_trip (user_id text, mode text, "
                        "distance_km numeric, started_at timestamptz, ended_at timestamptz, "
                        "external_id text)")
            started = time.perf_counter()
            with cur.copy("COPY bench_raw_trip FROM STDIN") as copy:
                for user_id, _, start, end, ext in rows:
                    copy.write_row((user_id, "metro", Decimal("12.5"), start, end, ext))
    return len(rows) / (time.perf_counter() - started)


def ledger_path(engine, rows) -> float:
    claims = claims_of(rows)
    started = time.perf_counter()
    with Session(engine) as session, session.begin():
        results = record_trips(session, claims, "bench-operator", RULES)
    elapsed = time.perf_counter() - started
    assert sum(d.status == "accepted" for d, _ in results) == BATCH
    return BATCH / elapsed


def floor_and_path(engine, citizens, run: int) -> tuple[float, float]:
    """One run of the raw COPY and record_trips, back to back, the first of the two alternating
    run by run (what one leaves behind, e.g. autovacuum's work, falls on both alike)."""
    if run % 2:
        ledger = ledger_path(engine, batch_rows(citizens, 100 + run))
        return raw_copy(engine, batch_rows(citizens, run)), ledger
    raw = raw_copy(engine, batch_rows(citizens, run))
    return raw, ledger_path(engine, batch_rows(citizens, 100 + run))


def ledger_ratios(ledger: list[float], raw: list[float]) -> str:
    """A path over the one measured before it (the ledger path over its floor, HTTP over the
    ledger path): the median of each run's own ratio (the two measured one right after the
    other, so a spell of load falls on both) and the ratio of the medians."""
    pairs = statistics.median(path / floor for path, floor in zip(ledger, raw))
    return (f"{pairs:.2f} (median of the runs' own ratios, each run's two back to "
            f"back; ratio of the medians {statistics.median(ledger) / statistics.median(raw):.2f})")


def licensed_operator(engine) -> str:
    """A bus and metro operator licensed by the admin's use case, as in production: its id."""
    today = datetime.now(UTC).date()
    terms = Terms(Role.TRANSIT_OPERATOR, "bench transit", f"LIC-{uuid.uuid4().hex[:6]}",
                  today - timedelta(days=1), today + timedelta(days=30), (Mode.BUS, Mode.METRO))
    granted = in_unit_of_work(engine, lambda uow: grant_accreditation(
        uow, f"bench-operator-{uuid.uuid4().hex[:6]}", terms,
        new_credentials(Role.TRANSIT_OPERATOR), granted_by="bench"))
    return granted.grant.user_id


def token(role: str, user_id: str, username: str) -> str:
    from cryptography.hazmat.primitives import serialization

    from tanhui_accounts.security import SigningKey

    key = SigningKey(serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None))
    return key.issue({"sub": user_id, "preferred_username": username, "role": role}, 3600,
                     "tanhui-accounts", "tanhui")


CLIENTS = 8
SINGLE_CITIZENS = 1_000  # x 17 days back from DAY0: inside the claim window
SINGLE_REQUESTS = 1_200  # per measurement
SINGLE_ROUNDS = 5  # flat-out rounds per path, the paths taking turns
SINGLE_ROUNDS_IN_ALL = SINGLE_ROUNDS + 2  # with the warm-up and the paced round


@dataclass
class Load:
    rate: float  # requests/s
    p50: float  # ms
    p99: float


BASELINE = os.environ.get("TANHUI_BENCH_TRIPS_BASELINE")
SINGLE_ONLY = os.environ.get("TANHUI_BENCH_TRIPS_ONLY") == "single"
LEDGER_ONLY = os.environ.get("TANHUI_BENCH_TRIPS_ONLY") == "ledger"
BATCH_ONLY = os.environ.get("TANHUI_BENCH_TRIPS_ONLY") == "batch"


def baseline_env(tree: str) -> dict[str, str]:
    """The earlier tree's packages ahead of this one's (same dependencies otherwise)."""
    paths = [f"{tree}/services/accounts/src", f"{tree}/libs/tanhui-shared/src", f"{tree}/gateway/src"]
    return {**os.environ, "PYTHONPATH": ":".join(paths)}


def start_baseline_accounts(tree: str, server_url: str, port: int) -> tuple[str, subprocess.Popen]:
    url = empty_database(server_url, "accounts_baseline")
    subprocess.run([sys.executable, "-c", "import sys, pathlib; from tanhui_shared.db import migrate; "
                    "migrate(sys.argv[1], pathlib.Path(sys.argv[2]) / 'services/accounts/migrations')",
                    url, tree], env=baseline_env(tree), cwd=tree, check=True)
    env = {**baseline_env(tree), "TANHUI_ENV": "test", "TANHUI_DATABASE_URL": url,
           "TANHUI_JWT_PRIVATE_KEY_FILE": str(KEY_FILE), "TANHUI_LOG_LEVEL": "WARNING",
           "TANHUI_TRIP_CLAIM_WINDOW_DAYS": str(WINDOW_DAYS)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tanhui_accounts.app:create_app",
                             "--factory", "--port", str(port), "--no-access-log", "--log-level",
                             "warning", "--http", "h11"], env=env, cwd=tree)
    wait_for(f"http://127.0.0.1:{port}/readyz", "the baseline accounts API")
    return url, proc


def start_gateway(accounts: str, redis_url: str, port: int,
                  base_env: dict[str, str] | None = None) -> subprocess.Popen:
    """The platform's gateway (one worker) in front of the accounts API; the rate limits are lifted
    since one bench client is a crowd of citizens."""
    env = {**(base_env or os.environ), "TANHUI_ACCOUNTS_URL": accounts, "TANHUI_REDIS_URL": redis_url,
           "TANHUI_VERIFICATION_URL": accounts, "TANHUI_CREDITS_URL": accounts,
           "TANHUI_RATE_LIMIT_WRITE": "100000000", "TANHUI_RATE_LIMIT_READ": "100000000",
           "TANHUI_RATE_LIMIT_PREFIX": f"bench-trips-{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "tanhui_gateway", "--port", str(port),
                             "--workers", "1"], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/healthz", "the gateway")
    return proc


def single_trips(targets: list[tuple[str, int, list[dict], int]]
                 ) -> dict[str, tuple[Load, Load, list[float]]]:
    """POST /api/v1/trips from CLIENTS threads to each target (name, port, tokens, series):
    SINGLE_ROUNDS flat-out rounds with the targets taking turns, then one round at half each
    target's median maximum. A single flat-out round per path let one spell of load decide a
    ratio (this tree's rate held at 253-285/s over three passes while the baseline's moved
    78-114/s)."""
    # What this process holds by now (modules, engines, seeded rows) out of its collector's full
    # passes, as the servers do theirs: a full pass over it stopped all client threads for 80-270
    # ms on a loaded machine, at the same point of every run, and was counted as the requests'
    # latency (a p99 at half the max rate is ~12 requests' worth of such a pause).
    gc.collect()
    gc.freeze()
    clients = {name: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                  limits=httpx.Limits(max_connections=CLIENTS))
               for name, port, _, _ in targets}

    def run(name: str, headers: list[dict], series: int, round_: int, rate: float | None,
            count: int = SINGLE_REQUESTS) -> Load:
        client = clients[name]
        first = (series * SINGLE_ROUNDS_IN_ALL + round_) * SINGLE_REQUESTS  # each request its own trip
        started = time.perf_counter()

        def one_trip(n: int) -> float:
            planned = started + n / rate if rate else time.perf_counter()
            time.sleep(max(0.0, planned - time.perf_counter()))
            i = first + n
            # one trip a day per citizen, on days before the batches' season
            start = DAY0 - timedelta(days=1 + i // len(headers))
            body = {"mode": "bus", "distance_km": "4.2", "started_at": start.isoformat(),
                    "ended_at": (start + timedelta(minutes=20)).isoformat(), "external_id": f"s-{i}"}
            reply = client.post("/api/v1/trips", json=body, headers=headers[i % len(headers)])
            assert reply.status_code == 201, reply.text
            return time.perf_counter() - planned

        with ThreadPoolExecutor(CLIENTS) as pool:
            latencies = list(pool.map(one_trip, range(count)))
        achieved = count / (time.perf_counter() - started)
        return Load(achieved, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000)

    try:
        for name, _, headers, series in targets:  # warm-up: connections, caches, first imports
            run(name, headers, series, 0, None, 100)
        flat_out: dict[str, list[Load]] = {name: [] for name, *_ in targets}
        for round_ in range(1, SINGLE_ROUNDS + 1):
            for name, _, headers, series in targets:
                flat_out[name].append(run(name, headers, series, round_, None))
                progress(f"single trips, {name}, round {round_}/{SINGLE_ROUNDS}: "
                         f"max {flat_out[name][-1].rate:,.0f}/s")
        results = {}
        for name, _, headers, series in targets:
            rates = [load.rate for load in flat_out[name]]
            best = min(flat_out[name], key=lambda load: abs(load.rate - statistics.median(rates)))
            half = run(name, headers, series, SINGLE_ROUNDS + 1, statistics.median(rates) / 2)
            progress(f"single trips, {name}: at {half.rate:,.0f}/s p50 {half.p50:.1f} ms "
                     f"p99 {half.p99:.1f} ms")
            results[name] = (Load(statistics.median(rates), best.p50, best.p99), half, rates)
        return results
    finally:
        for client in clients.values():
            client.close()


def baseline_ratios(singles: dict) -> str:
    if not BASELINE:
        return ""
    commit = subprocess.run(["git", "-C", BASELINE, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    lines = []
    for path in ("gateway", "direct"):
        ours, theirs = singles[path][2], singles[f"{path}, baseline"][2]
        per_round = [a / b for a, b in zip(ours, theirs)]
        lines.append(f"Single trips {path}, max rate / baseline ({commit}) in the same run: "
                     f"{statistics.median(per_round):.2f} (median of the {len(per_round)} rounds' "
                     f"own ratios: {', '.join(f'{r:.2f}' for r in per_round)}; ratio of the "
                     f"medians {statistics.median(ours) / statistics.median(theirs):.2f}).\n")
    return "".join(lines)


def main() -> None:
    infra = provide_infrastructure()
    progress(f"PostgreSQL from {infra.source}; seeding {CITIZENS:,} citizens")
    url = fresh_database(infra.database_url, "accounts")
    engine = make_engine(url)
    citizens = seed_citizens(engine, CITIZENS)
    # a run is about a second: 11 of them, since one run's floor moved 99k-237k/s in a quiet pass
    runs = 0 if SINGLE_ONLY else RUNS
    if LEDGER_ONLY:  # the ledger path and its floor alone, taking turns as below
        raw, ledger = [], []
        for run in range(runs):
            floor, path = floor_and_path(engine, citizens, run)
            raw.append(floor)
            ledger.append(path)
            progress(f"batches, run {run + 1}/{runs}: raw COPY {raw[-1]:,.0f}/s, record_trips "
                     f"{ledger[-1]:,.0f}/s")
        print(f"""Batches of {BATCH:,} metro rides over {CITIZENS:,} citizens, {runs} runs each:
raw COPY {summary(raw)}; record_trips {summary(ledger)}.
Ledger path / raw COPY, same run: {ledger_ratios(ledger, raw)} (load average at the end
{os.getloadavg()[0]:.1f}).""")
        return
    port = free_port()  # fixed ports collided with other benches on a shared machine
    api = start_accounts(url, port, TANHUI_TRIP_CLAIM_WINDOW_DAYS=str(WINDOW_DAYS))
    try:
        operator = token("transit_operator", licensed_operator(engine), "bench-operator")
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                              headers={"Authorization": f"Bearer {operator}"})

        def http_batch(run: int) -> float:
            rows = batch_rows(citizens, 200 + run)
            body = {"trips": [{"username": name, "mode": "metro", "distance_km": "12.5",
                               "started_at": s.isoformat(), "ended_at": e.isoformat(),
                               "external_id": ext} for _, name, s, e, ext in rows]}
            # The feed's bytes made before the clock starts, as record_trips' claims are: an
            # operator's system has its file ready; the client's json.dumps is not the API's cost.
            # The same bytes httpx's json= sends.
            feed = json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                              allow_nan=False).encode()
            started = time.perf_counter()
            reply = client.post("/api/v1/trips/batch", content=feed,
                                headers={"Content-Type": "application/json"})
            elapsed = time.perf_counter() - started
            assert reply.status_code == 200 and reply.json()["accepted"] == BATCH, reply.text[:300]
            return BATCH / elapsed

        # The three paths take turns, run by run, so a shared machine's load falls on them alike
        # (measured one after the other, a spell of load on one made the ratios meaningless)
        raw: list[float] = []
        ledger: list[float] = []
        http: list[float] = []
        for run in range(runs):
            floor, path = floor_and_path(engine, citizens, run)
            raw.append(floor)
            ledger.append(path)
            http.append(http_batch(run))
            progress(f"batches, run {run + 1}/{runs}: raw COPY {raw[-1]:,.0f}/s, record_trips "
                     f"{ledger[-1]:,.0f}/s, POST /trips/batch {http[-1]:,.0f}/s")
        client.close()
        if BATCH_ONLY:
            print(f"""Batches of {BATCH:,} metro rides over {CITIZENS:,} citizens, {runs} runs each:
raw COPY {summary(raw)}; record_trips {summary(ledger)}; POST /trips/batch {summary(http)}.
Ledger path / raw COPY, same run: {ledger_ratios(ledger, raw)}; HTTP batch / ledger path:
{ledger_ratios(http, ledger)} (load average at the end {os.getloadavg()[0]:.1f}).""")
            return

        headers = [{"Authorization": f"Bearer {token('citizen', uid, name)}"}
                   for uid, name in citizens[:SINGLE_CITIZENS]]
        gateway_port = free_port()
        targets = [("gateway", gateway_port, headers), ("direct", port, headers)]
        processes = [start_gateway(f"http://127.0.0.1:{port}", infra.redis_url, gateway_port)]
        if BASELINE:
            base_port, base_gateway = free_port(), free_port()
            base_url, base_api = start_baseline_accounts(BASELINE, infra.database_url, base_port)
            processes.append(base_api)
            base_engine = make_engine(base_url)
            base_headers = [{"Authorization": f"Bearer {token('citizen', uid, name)}"}
                            for uid, name in seed_citizens(base_engine, SINGLE_CITIZENS)]
            base_engine.dispose()
            processes.append(start_gateway(f"http://127.0.0.1:{base_port}", infra.redis_url,
                                           base_gateway, baseline_env(BASELINE)))
            # taking turns with this tree's, so both see the same machine
            targets = [("gateway, baseline", base_gateway, base_headers), targets[0],
                       ("direct, baseline", base_port, base_headers), targets[1]]
        try:
            # each database has its own citizens: gateway and direct take different trips of theirs
            singles = single_trips([(name, at, who, 0 if name.startswith("gateway") else 1)
                                    for name, at, who in targets])
        finally:
            for proc in processes:
                proc.terminate()
                proc.wait()
    finally:
        api.terminate()
        api.wait()

    single_rows = "\n".join(
        f"| {name} | {summary(rates)} | {m.p50:.1f} / {m.p99:.1f} ms | "
        f"{h.p50:.1f} / {h.p99:.1f} ms at {h.rate:,.0f}/s |" for name, (m, h, rates) in singles.items())
    batches = "" if SINGLE_ONLY else f"""Batches of {BATCH:,} metro rides over
{CITIZENS:,} citizens; {runs} runs each, one run = one batch in one transaction.

| path | throughput |
|---|---|
| raw COPY of the same rows into a bare table (floor) | {summary(raw)} |
| `record_trips`: rules, history, COPY of trips + ledger entries, balances | {summary(ledger)} |
| POST /api/v1/trips/batch over HTTP (JSON parse, auth, the above) | {summary(http)} |

Ledger path / raw COPY, same run: {ledger_ratios(ledger, raw)}; HTTP
batch / ledger path: {ledger_ratios(http, ledger)}.
"""
    report = f"""# Trip ingestion benchmark

Machine: {machine()}; PostgreSQL from {infra.source}; load average at the end {os.getloadavg()[0]:.1f}.
{batches}
Single trips (POST /api/v1/trips, one citizen's token each, {CLIENTS} client threads): the maximum
rate (median of {SINGLE_ROUNDS} rounds of {SINGLE_REQUESTS:,} requests, the paths taking turns; p50/p99 of
the median round), then p50/p99 with requests sent at half of it (latency counted from each request's planned
send time, so a queue behind a slow request is counted).

| path | max rate | p50 / p99 at max | p50 / p99 at half the max rate |
|---|---|---|---|
{single_rows}

Single trips, gateway / direct in the same run: max rate {singles["gateway"][0].rate / singles["direct"][0].rate:.2f}, p99 at half the max rate {singles["gateway"][1].p99 / singles["direct"][1].p99:.2f}.
{baseline_ratios(singles)}"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("trip_ingestion_single.md" if SINGLE_ONLY else "trip_ingestion.md")).write_text(report)
    print(report)


if __name__ == "__main__":
    main()
