"""Reads at a city's scale: seed a city's data (COPY, outside the request path, into databases
migrated by the real migrations), then p50/p99 of the reads a city's users make, against real
API processes: a citizen's home in the console, the regulator's city figures, the public
disclosures, the public registry's totals and a serial's lineage. Side by side in the same run:
the scans the city figures and registry totals were computed with before their rollups.

Scale: TANHUI_CITY_SCALE (default 1: 1,000,000 citizens, 20,000,000 trips, 10,000 enterprises,
100,000 serial blocks). Figures go to bench/results/city_scale.md.
"""
from __future__ import annotations

import functools
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).parent))
from city_registry_seed import seed_registry  # noqa: E402
from city_seed import (drop_indexes, recreate, seed_citizens, seed_enterprises,  # noqa: E402
                       user_id)
from common import (KEY_FILE, RESULTS, fresh_database, machine, percentile, progress,  # noqa: E402
                    provide_infrastructure, start_accounts, wait_for)
from tanhui_credits.store.registry import scanned_project_totals  # noqa: E402
from tanhui_shared.db import make_engine  # noqa: E402
from tanhui_shared.settings import REPO_ROOT  # noqa: E402

SCALE = float(os.environ.get("TANHUI_CITY_SCALE", "1"))
CITIZENS = max(1_000, int(1_000_000 * SCALE))
TRIPS_EACH = 20  # 20,000,000 trips at scale 1
# a city's enterprises alone (the disclosures' reads) without its 20 million trips:
# TANHUI_CITY_ENTERPRISES=10000 with a small TANHUI_CITY_SCALE
ENTERPRISES = int(os.environ.get("TANHUI_CITY_ENTERPRISES", max(100, int(10_000 * SCALE))))
BLOCKS = max(1_000, int(100_000 * SCALE))
REQUESTS = 200
TARGET_MS = 100
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
PORTS = tuple(18150 + 10 * WORKER + n for n in range(4))  # city accounts, credits; town's

# the scans stats.py and the registry ran per request before the rollups (the baseline)
TRIP_SCAN = sa.text("SELECT mode, count(*), sum(distance_km), sum(reduction_g) FROM green_trip "
                    "WHERE extract(year FROM local_day) = :year GROUP BY mode")
EMISSION_SCAN = sa.text("""SELECT e.county, count(*), sum(r.total_tco2e) FROM carbon_report r
JOIN enterprise e ON e.id = r.enterprise_id WHERE r.is_current AND e.claim_status = 'confirmed'
AND r.period LIKE :year || '%' GROUP BY e.county""")
# a period's page and count as the disclosures read them before disclosure_entry (0011): the
# page's ids sorted out of the period's joined rows, then counted again
_DISCLOSED = """FROM carbon_report r JOIN enterprise e ON e.id = r.enterprise_id
WHERE r.is_current AND e.claim_status = 'confirmed' AND r.period = :period"""
OFFSET_PAGE = sa.text(f"""SELECT r.*, e.* FROM (SELECT r.id {_DISCLOSED}
ORDER BY r.period DESC, e.name, r.id LIMIT 50 OFFSET :offset) AS ids
JOIN carbon_report r ON r.id = ids.id JOIN enterprise e ON e.id = r.enterprise_id
ORDER BY r.period DESC, e.name, r.id""")
OFFSET_COUNT = sa.text(f"SELECT count(*) {_DISCLOSED}")
# ... and now: the rest of the cursor's period from the index in page order, then the rows;
# the count kept by triggers
KEYSET_PAGE = sa.text("""SELECT r.*, e.* FROM (SELECT report_id FROM disclosure_entry
WHERE period = :period AND (name, report_id) > (:name, :report_id)
ORDER BY name, report_id LIMIT 51) AS ids
JOIN carbon_report r ON r.id = ids.report_id JOIN enterprise e ON e.id = r.enterprise_id""")
KEYSET_COUNT = sa.text("SELECT coalesce(sum(reports), 0) FROM disclosure_period WHERE period = :period")


@functools.cache
def signing_key():
    """Loaded once: checking an RSA key on load takes a good part of a second here."""
    from cryptography.hazmat.primitives import serialization

    from tanhui_accounts.security import SigningKey

    return SigningKey(serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None))


def token(role: str, uid: str, username: str) -> str:
    return signing_key().issue({"sub": uid, "preferred_username": username, "role": role}, 3600,
                     "tanhui-accounts", "tanhui")


def start_credits(database_url: str, port: int) -> subprocess.Popen:
    """A real credits API process (one uvicorn worker), as start_accounts starts accounts."""
    env = {**os.environ, "TANHUI_ENV": "test", "TANHUI_DATABASE_URL": database_url,
           "TANHUI_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tanhui_credits.app:create_app",
                             "--factory", "--port", str(port), "--no-access-log", "--log-level",
                             "warning"], env=env, cwd=REPO_ROOT)
    wait_for(f"http://127.0.0.1:{port}/readyz", "the credits API")
    return proc


def seed_accounts(server: str, citizens: int, enterprises: int) -> tuple[str, dict]:
    url = fresh_database(server, "accounts")
    engine = make_engine(url, pool_size=2)
    facts: dict = {}
    started = time.perf_counter()
    statements = drop_indexes(engine)
    done = [0, time.perf_counter()]

    def report(users: int) -> None:
        done[0] += users
        if time.perf_counter() - done[1] > 10 or done[0] == citizens:
            done[1] = time.perf_counter()
            rate = done[0] * TRIPS_EACH / (done[1] - started)
            progress(f"citizens {done[0]:,}/{citizens:,} ({done[0] * TRIPS_EACH:,} trips, "
                     f"{rate:,.0f} trips/s)")

    today = datetime.now(UTC).date()
    seed_citizens(url, citizens, TRIPS_EACH, today, report)
    facts["copy_s"] = time.perf_counter() - started
    progress(f"COPY done in {facts['copy_s']:.0f}s; recreating {len(statements)} keys and indexes")
    index_started = time.perf_counter()
    recreate(engine, statements, lambda s: progress(f"  {s}"))
    facts["index_s"] = time.perf_counter() - index_started
    with engine.begin() as conn:
        for uid, name, role in (("bench-regulator", "bench-regulator", "regulator"),
                                ("bench-owner", "bench-owner", "enterprise")):
            conn.execute(sa.text("INSERT INTO user_account VALUES (:i, :n, '-', :r, now())"),
                         {"i": uid, "n": name, "r": role})
    enterprise_started = time.perf_counter()
    seed_enterprises(url, enterprises, "bench-owner", "bench-regulator")
    facts["enterprise_s"] = time.perf_counter() - enterprise_started
    facts["seed_s"] = time.perf_counter() - started
    with engine.connect() as conn:
        facts["size"] = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        facts["trips"] = conn.execute(sa.text("SELECT count(*) FROM green_trip")).scalar()
        facts["entries"] = conn.execute(sa.text("SELECT count(*) FROM points_entry")).scalar()
        facts["reports"] = conn.execute(sa.text("SELECT count(*) FROM carbon_report")).scalar()
        facts["retirements"] = conn.execute(sa.text("SELECT count(*) FROM report_retirement")).scalar()
        rolled = conn.execute(sa.text("SELECT sum(trips) FROM trip_rollup")).scalar()
    assert rolled == facts["trips"], (rolled, facts["trips"])  # the triggers saw every COPY
    engine.dispose()
    return url, facts


def seed_credits(server: str, blocks: int) -> tuple[str, dict]:
    url = fresh_database(server, "credits")
    started = time.perf_counter()
    facts = seed_registry(url, blocks)
    facts["seed_s"] = time.perf_counter() - started
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        facts["size"] = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return url, facts


def timed(requests: int, targets) -> list[list[float]]:
    """`requests` GETs to each target (client, path, headers callables) after 5 to warm up,
    taking turns, so the city and the town share the machine's load alike."""
    latencies: list[list[float]] = [[] for _ in targets]
    for n in range(requests + 5):
        for (client, paths, headers), measured in zip(targets, latencies, strict=True):
            started = time.perf_counter()
            reply = client.get(paths(n), headers=headers(n) if headers else None)
            elapsed = time.perf_counter() - started
            assert reply.status_code == 200, (paths(n), reply.status_code, reply.text[:300])
            if n >= 5:
                measured.append(elapsed * 1000)
    return latencies


def scan_ms(engine, query, runs: int = 3, **params) -> float:
    times = []
    for _ in range(runs):
        with engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(query, params).all()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class Place:
    """One seeded city (or the town that is its control): its databases, APIs and clients."""

    def __init__(self, server: str, name: str, citizens: int, enterprises: int, blocks: int,
                 ports: tuple[int, int]) -> None:
        self.name, self.citizens, self.enterprises = name, citizens, enterprises
        progress(f"{name}: {citizens:,} citizens, {citizens * TRIPS_EACH:,} trips, "
                 f"{enterprises:,} enterprises, ~{blocks:,} blocks")
        self.accounts_url, self.accounts = seed_accounts(server, citizens, enterprises)
        progress(f"{name}: accounts seeded in {self.accounts['seed_s']:.0f}s")
        self.credits_url, self.credits = seed_credits(server, blocks)
        progress(f"{name}: registry seeded in {self.credits['seed_s']:.0f}s "
                 f"({self.credits['blocks']:,} blocks)")
        self.ports = ports
        rng = random.Random(15)
        self.people = [rng.randrange(citizens) for _ in range(REQUESTS + 5)]
        self.headers = {i: {"Authorization": f"Bearer {token('citizen', user_id(i), f'citizen-{i}')}"}
                        for i in set(self.people)}
        # a report of 2024 per enterprise: pages anywhere in the year, the deepest included
        self.offsets = [rng.randrange(0, enterprises, 200) for _ in range(REQUESTS + 5)]
        self.serials = [(rng.randrange(1, self.credits["projects"] + 1),
                         rng.choice((2021, 2022, 2023, 2024, 2025)),
                         rng.randrange(1, self.credits["serials_per_issuance"] + 1))
                        for _ in range(REQUESTS + 5)]

    def start(self) -> list[subprocess.Popen]:
        self.a = httpx.Client(base_url=f"http://127.0.0.1:{self.ports[0]}", timeout=120)
        self.c = httpx.Client(base_url=f"http://127.0.0.1:{self.ports[1]}", timeout=120)
        return [start_accounts(self.accounts_url, self.ports[0]),
                start_credits(self.credits_url, self.ports[1])]

    def walk(self, query: str) -> list[str]:
        """The `after` of every page of the query (the first page's is empty), walked once
        before the timing, so the timed requests start anywhere in the list."""
        cursors, after = [""], None
        while True:
            reply = self.a.get(f"/api/v1/disclosures?{query}" + (f"&after={after}" if after else ""))
            assert reply.status_code == 200, reply.text[:300]
            if not (after := reply.json()["next"]):
                return cursors
            cursors.append(after)

    def reads(self, year: int) -> dict[str, tuple]:
        """label -> (requests, client, path, headers) of what the city's users read."""
        citizen = lambda n: self.headers[self.people[n]]  # noqa: E731
        regulator = {"Authorization": "Bearer " + token("regulator", "bench-regulator",
                                                         "bench-regulator")}
        serial = "/api/v1/registry/serials/NC-FS-{:04d}-{}-{:09d}"
        after = lambda cursor: f"&after={cursor}" if cursor else ""  # noqa: E731
        return {
            "citizen home: GET /me/carbon-account?limit=10":
                (REQUESTS, self.a, lambda n: "/api/v1/me/carbon-account?limit=10", citizen),
            "citizen home: GET /me/trips?limit=20":
                (REQUESTS, self.a, lambda n: "/api/v1/me/trips?limit=20", citizen),
            "citizen home: GET /me/redemptions?limit=20":
                (REQUESTS, self.a, lambda n: "/api/v1/me/redemptions?limit=20", citizen),
            f"city statistics: GET /stats/city?period={year}":
                (REQUESTS, self.a, lambda n: f"/api/v1/stats/city?period={year}",
                 lambda n: regulator),
            "disclosures, a page: GET /disclosures?period=2024&limit=50&offset=... (compat)":
                (REQUESTS, self.a, lambda n: "/api/v1/disclosures?period=2024&limit=50&offset="
                 f"{(n * 50) % self.enterprises}", None),
            "disclosures, a page: GET /disclosures?period=2024&limit=50&after=...":
                (REQUESTS, self.a, lambda n: "/api/v1/disclosures?period=2024&limit=50"
                 + after(self.period_cursors[n % len(self.period_cursors)]), None),
            "disclosures of a year, 200 a page: GET /disclosures?year=2024&limit=200&offset=... (compat)":
                (REQUESTS, self.a, lambda n: "/api/v1/disclosures?year=2024&limit=200&offset="
                 f"{self.offsets[n]}", None),
            "disclosures of a year, 200 a page: GET /disclosures?year=2024&limit=200&after=...":
                (REQUESTS, self.a, lambda n: "/api/v1/disclosures?year=2024&limit=200"
                 + after(self.year_cursors[self.offsets[n] // 200 % len(self.year_cursors)]), None),
            "public registry: GET /registry/projects":
                (REQUESTS, self.c, lambda n: "/api/v1/registry/projects", None),
            "a serial's lineage: GET /registry/serials/{serial}":
                (REQUESTS, self.c, lambda n: serial.format(*self.serials[n]), None),
        }


def whole_year(place: Place) -> tuple[int, int, float]:
    """All of 2024's disclosures read page by page, as the console's export and the operators'
    CLI read them: (disclosures, requests, seconds)."""
    started, found, requests, after = time.perf_counter(), 0, 0, None
    while True:
        reply = place.a.get("/api/v1/disclosures?year=2024&limit=200"
                            + (f"&after={after}" if after else ""))
        assert reply.status_code == 200, reply.text[:300]
        page, requests = reply.json(), requests + 1
        found += len(page["items"])
        if not (after := page["next"]):
            return found, requests, time.perf_counter() - started


def scans(place: Place, year: int) -> dict[str, float]:
    """The scans the rollups replace, in the place's databases (median of 3)."""
    accounts_engine, credits_engine = make_engine(place.accounts_url), make_engine(place.credits_url)
    found = {"trips of the year by mode (green_trip)": scan_ms(accounts_engine, TRIP_SCAN, year=year),
             "emissions of 2024 by county (carbon_report, enterprise)":
                 scan_ms(accounts_engine, EMISSION_SCAN, year="2024")}
    times = []
    for _ in range(3):
        with Session(credits_engine) as session:
            started = time.perf_counter()
            scanned_project_totals(session)
            times.append((time.perf_counter() - started) * 1000)
    found["registry totals (issuance, serial_block)"] = statistics.median(times)
    # a page in the middle of 2024's disclosures, and the period's count: before and after
    with accounts_engine.connect() as conn:
        middle = conn.execute(sa.text(
            "SELECT period, name, report_id FROM disclosure_entry WHERE period = '2024' "
            "ORDER BY name, report_id OFFSET :o LIMIT 1"), {"o": place.enterprises // 2}).one()
    found["2024 page of 50 at the middle: sorted by offset (before)"] = scan_ms(
        accounts_engine, OFFSET_PAGE, period="2024", offset=place.enterprises // 2)
    found["2024 page of 50 at the middle: index range after a key (after)"] = scan_ms(
        accounts_engine, KEYSET_PAGE, period="2024", name=middle.name, report_id=middle.report_id)
    found["2024's count: carbon_report x enterprise (before)"] = scan_ms(
        accounts_engine, OFFSET_COUNT, period="2024")
    found["2024's count: disclosure_period, summed over shards (after)"] = scan_ms(
        accounts_engine, KEYSET_COUNT, period="2024")
    accounts_engine.dispose()
    credits_engine.dispose()
    return found


def main() -> None:
    # a SIGTERM unwinds like Ctrl-C, so the API processes started below are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    infra = provide_infrastructure()
    progress(f"PostgreSQL from {infra.source}; scale {SCALE}")
    run(infra.database_url)  # its databases are dropped at exit (common.empty_database)


def run(server: str) -> None:
    city = Place(server, "city", CITIZENS, ENTERPRISES, BLOCKS, PORTS[:2])
    town = Place(server, "town (control)", 1_000, 100, 1_000, PORTS[2:])
    year = datetime.now(UTC).year
    processes = city.start() + town.start()
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        for place in (city, town):
            place.period_cursors = place.walk("period=2024&limit=50")
            place.year_cursors = place.walk("year=2024&limit=200")
        town_reads = town.reads(year)
        for label, (requests, *city_target) in city.reads(year).items():
            measured = timed(requests, [city_target, town_reads[label][1:]])
            results[label] = (measured[0], measured[1])
            progress(f"{label}: city p50 {percentile(measured[0], 50):.1f} ms, "
                     f"p99 {percentile(measured[0], 99):.1f} ms; town p99 "
                     f"{percentile(measured[1], 99):.1f} ms")
        paged = {p.name: whole_year(p) for p in (city, town)}
    finally:
        for proc in processes:
            proc.terminate()
            proc.wait()
    progress("the scans the rollups replace, 3 runs each")
    write_report(city, town, results, scans(city, year), scans(town, year), paged)


def write_report(city: Place, town: Place, results: dict, scanned: dict, town_scans: dict,
                 paged: dict) -> None:
    def row(label: str, city_ms: list[float], town_ms: list[float]) -> str:
        p99 = percentile(city_ms, 99)
        return (f"| {label} | {len(city_ms)} | {percentile(city_ms, 50):.1f} ms | {p99:.1f} ms | "
                f"{'met' if p99 <= TARGET_MS else 'MISSED'} | {percentile(town_ms, 50):.1f} ms | "
                f"{percentile(town_ms, 99):.1f} ms | {percentile(city_ms, 50) / percentile(town_ms, 50):.2f} |")

    rows = "\n".join(row(label, *measured) for label, measured in results.items())
    scan_rows = "\n".join(f"| {label} | {ms:,.1f} ms | {town_scans[label]:,.1f} ms |"
                          for label, ms in scanned.items())
    a, c = city.accounts, city.credits
    paged_lines = "; ".join(f"{name}: {n:,} in {requests} requests, {seconds:.2f} s"
                            for name, (n, requests, seconds) in paged.items())
    report = f"""# City-scale reads benchmark

Machine: {machine()}. Scale {SCALE} of the city (1: 1,000,000 citizens, 20,000,000 trips,
10,000 enterprises, 100,000 serial blocks): {city.citizens:,} citizens, {a['trips']:,} trips with
{a['entries']:,} points entries and their balances, {city.enterprises:,} confirmed enterprises
with {a['reports']:,} reports and {a['retirements']:,} retirements against them,
{c['blocks']:,} serial blocks in {c['issuances']:,} issuances (each split {c['serials_per_issuance'] // 10 - 1} times, so a lineage is up to
{c['serials_per_issuance'] // 10 + 1} blocks) with {c['audit_entries']:,} chained audit entries.
Seeded by COPY (2 processes) into databases migrated by the real migrations; the keys and
indexes of green_trip and points_entry dropped before the COPY and recreated after (the
citizens' tables load with theirs); the rollup triggers on throughout. The control, in the same
run: a town of {town.citizens:,} citizens, {town.enterprises} enterprises, {town.credits['blocks']:,} blocks.

| seed (city) | time | database size |
|---|---|---|
| accounts: COPY of citizens, trips, ledger, balances | {a['copy_s']:,.0f} s | |
| accounts: keys and indexes recreated, ANALYZE | {a['index_s']:,.0f} s | |
| accounts: enterprises and reports | {a['enterprise_s']:,.0f} s | |
| accounts: total | {a['seed_s']:,.0f} s | {a['size'] / 2**30:,.2f} GiB |
| credits: registry | {c['seed_s']:,.0f} s | {c['size'] / 2**20:,.0f} MiB |

Sequential requests (after 5 to warm up) against real API processes (one uvicorn worker each),
random citizens and serials, city and town taking turns request by request. Target: p99 <=
{TARGET_MS} ms in the city.

| read | requests | city p50 | city p99 | target | town p50 | town p99 | city/town p50 |
|---|---|---|---|---|---|---|---|
{rows}

Every disclosure of 2024 read page by page (limit=200, as the console's export and the
operators' CLI read them; no request answers a whole year): {paged_lines}

The scans the city figures and registry totals needed per request before their rollups, run in
the same databases (median of 3):

| scan | city | town |
|---|---|---|
{scan_rows}
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "city_scale.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
