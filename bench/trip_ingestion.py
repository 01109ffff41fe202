"""Green-trip ingestion into the points ledger on PostgreSQL (issue 3's benchmark).

1. Batch path: `record_trips` with transit operators' 10,000-record batches (history read, rules,
   COPY of trips and ledger entries, balance updates, one transaction), beside a raw COPY of the
   same rows into a bare table in the same run: the ratio is what the rules and the ledger cost.
2. The same batches through HTTP: a real uvicorn accounts API, POST /api/v1/trips/batch.
3. Single-trip requests: POST /api/v1/trips from 8 client threads, requests/s and p50/p99.

Run: `make bench` (or `uv run python bench/trip_ingestion.py`).
"""
from __future__ import annotations

import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
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
from common import (KEY_FILE, RESULTS, fresh_database, machine, percentile, progress,  # noqa: E402
                    provide_infrastructure, repeat, start_accounts, summary)

BATCH = 10_000
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


def main() -> None:
    infra = provide_infrastructure()
    progress(f"PostgreSQL from {infra.source}; seeding {CITIZENS:,} citizens")
    url = fresh_database(infra.database_url, "accounts")
    engine = make_engine(url)
    citizens = seed_citizens(engine, CITIZENS)
    runs = 5
    raw = repeat("raw COPY", runs, lambda r: raw_copy(engine, batch_rows(citizens, r)))
    ledger = repeat("record_trips (rules + ledger)", runs,
                    lambda r: ledger_path(engine, batch_rows(citizens, 100 + r)))

    port = 18101
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
            started = time.perf_counter()
            reply = client.post("/api/v1/trips/batch", json=body)
            elapsed = time.perf_counter() - started
            assert reply.status_code == 200 and reply.json()["accepted"] == BATCH, reply.text[:300]
            return BATCH / elapsed

        http = repeat("POST /trips/batch (HTTP + JSON)", runs, http_batch)

        latencies: list[float] = []
        singles = 1_600
        headers = [{"Authorization": f"Bearer {token('citizen', uid, name)}"}
                   for uid, name in citizens[:singles // 8]]

        def one_trip(i: int) -> None:
            start = DAY0 - timedelta(days=1 + i // len(headers), minutes=(i % 3) * 50)
            body = {"mode": "bus", "distance_km": "4.2", "started_at": start.isoformat(),
                    "ended_at": (start + timedelta(minutes=20)).isoformat(), "external_id": f"s-{i}"}
            t0 = time.perf_counter()
            reply = single_client.post("/api/v1/trips", json=body, headers=headers[i % len(headers)])
            latencies.append(time.perf_counter() - t0)
            assert reply.status_code == 201, reply.text

        single_client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     limits=httpx.Limits(max_connections=8))
        progress(f"single trips: {singles:,} requests from 8 threads")
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one_trip, range(singles)))
        single_rate = singles / (time.perf_counter() - started)
    finally:
        api.terminate()
        api.wait()

    ratio = statistics.median(ledger) / statistics.median(raw)
    report = f"""# Trip ingestion benchmark

Machine: {machine()}; PostgreSQL from {infra.source}. Batches of {BATCH:,} metro rides over
{CITIZENS:,} citizens; {runs} runs each, one run = one batch in one transaction.

| path | throughput |
|---|---|
| raw COPY of the same rows into a bare table (floor) | {summary(raw)} |
| `record_trips`: rules, history, COPY of trips + ledger entries, balances | {summary(ledger)} |
| POST /api/v1/trips/batch over HTTP (JSON parse, auth, the above) | {summary(http)} |
| POST /api/v1/trips, 8 client threads | {single_rate:,.0f} requests/s, p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms |

Ledger path / raw COPY, same run: {ratio:.2f}.
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "trip_ingestion.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
