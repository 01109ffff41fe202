"""Seeding a city's accounts database for city_scale.py: citizens, their trips with the points
ledger and balances that go with them, enterprises with their reports. COPY from generated
text streams, outside the request path, into a database migrated by the real migrations.

Indexes and unique constraints of the two big tables are dropped before the load and recreated,
with their exact definitions, afterwards (a bulk load's usual order); check constraints and the
rollup triggers stay on, so the city rollups are built by the same triggers as in production.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from multiprocessing import get_context

import psycopg
import sqlalchemy as sa

from tanhui_accounts.domain.travel import RULES, Mode, credit_trip
from tanhui_accounts.domain.uscc import check_character

# (mode, km) of the trips a citizen makes, in turn; the reduction and points are the platform's
RIDES = [(Mode.METRO, Decimal("12.5")), (Mode.BUS, Decimal("5.0")), (Mode.BIKE, Decimal("3.0")),
         (Mode.METRO, Decimal("8.0")), (Mode.WALK, Decimal("1.5"))]
CREDIT = [(m.value, km, c.reduction_g, c.points)
          for m, km in RIDES for c in [credit_trip(RULES, m, km, 0, 0)]]
# Nanchong's nine county-level divisions (Sichuan, the city the demo is set in)
COUNTIES = ["顺庆区", "高坪区", "嘉陵区", "阆中市", "南部县", "西充县", "营山县", "蓬安县", "仪陇县"]
INDUSTRIES = ["cement", "power", "chemicals", "textiles", "food", "steel", "paper", "glass"]
CHUNK_USERS = 20_000  # users per COPY transaction (~400,000 trips at 20 each)
EPOCH = "2025-01-01 00:00:00+00"  # accounts' and enterprises' created_at


def user_id(i: int) -> str:
    """A uuid-shaped id, the length of the real ones (indexes the size they will be)."""
    return f"{i:08x}-0000-4000-8000-{i:012x}"


def trip_offsets(i: int, trips: int) -> list[int]:
    """How many days ago a citizen's trips were, oldest first: one trip a day, all older than the
    claim window (so no daily-cap row is ever read again for them), within the last 330 days."""
    return sorted({8 + (i * 7 + k * 17) % 322 for k in range(trips)}, reverse=True)


def _citizen_rows(first: int, last: int, trips: int, today: date) -> tuple[str, ...]:
    # the text of every day, time and ride made once: formatting dominates the generator
    days = [str(today - timedelta(days=o)) for o in range(331)]
    starts = [f" 00:{m:02d}:00+00" for m in range(60)]  # 08:xx in the city: its local_day
    ends = [f" 01:{m:02d}:00+00" for m in range(60)]
    rides = [(f"\t{mode}\t{km}\t", f"\t{reduction_g}\t{points}\t\\N\t", points,
              int(reduction_g * 10))
             for mode, km, reduction_g, points in CREDIT]
    users, accounts, trip_lines, entry_lines = [], [], [], []
    for i in range(first, last):
        uid = user_id(i)
        users.append(f"{uid}\tcitizen-{i}\t-\tcitizen\t{EPOCH}\n")
        balance, tenths = 0, 0  # the reduction in tenths of a gram: integers add faster
        for k, offset in enumerate(trip_offsets(i, trips)):
            ride, credit, points, reduction_g = rides[(i + k) % len(rides)]
            trip = f"{i:08x}-{k:04x}-4000-9000-{i:012x}"
            day = days[offset]
            ended = day + ends[k % 60]
            trip_lines.append(f"{trip}\t{uid}{ride}{day}{starts[k % 60]}\t{ended}\t{day}\t"
                              f"card-{i}-{k}\t{uid}{credit}{ended}\n")
            tenths += reduction_g
            if points:
                balance += points
                entry_lines.append(f"{uid}\tearn\t{points}\t{balance}\t0\t{trip}\t\\N\t\\N\t"
                                   f"{ended}\n")
        accounts.append(f"{uid}\t{balance}\t0\t{tenths // 10}.{tenths % 10}\n")
    return "".join(users), "".join(accounts), "".join(trip_lines), "".join(entry_lines)


COPIES = [
    ("user_account", "id, username, password_hash, role, created_at"),
    ("points_account", "user_id, balance, held, reduction_g"),
    ("green_trip", "id, user_id, mode, distance_km, started_at, ended_at, local_day, external_id, "
                   "recorded_by, reduction_g, points, capped_by, created_at"),
    ("points_entry", "user_id, kind, points, balance_after, held_after, trip_id, redemption_id, "
                     "expired_before, created_at"),
]


def _load_chunk(args: tuple[str, int, int, int, str]) -> int:
    dsn, first, last, trips, today = args
    data = _citizen_rows(first, last, trips, date.fromisoformat(today))
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        for (table, columns), text in zip(COPIES, data, strict=True):
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(text)
    return last - first


def psycopg_dsn(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)


# trips and ledger entries (20 million each) load without keys and indexes; the citizens'
# tables (a million rows, and others' foreign keys point at user_account) load with theirs
BIG_TABLES = ["green_trip", "points_entry"]
_CONSTRAINTS = sa.text("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('p', 'u')""")
_INDEXES = sa.text("""SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))
AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""")


def drop_indexes(engine) -> list[str]:
    """Drop the big tables' keys and indexes; returns the statements that recreate them."""
    with engine.begin() as conn:
        constraints = conn.execute(_CONSTRAINTS, {"tables": BIG_TABLES}).all()
        indexes = conn.execute(_INDEXES, {"tables": BIG_TABLES}).all()
        for name, _ in indexes:
            conn.execute(sa.text(f'DROP INDEX "{name}"'))
        for table, name, _ in constraints:
            conn.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    return ([f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
             for table, name, definition in constraints] + [d for _, d in indexes])


def _default_sigterm() -> None:
    # A forked worker inherits city_scale's SIGTERM handler (sys.exit): the pool's terminate()
    # (SIGTERM) then unwound a worker instead of ending it, and once a worker stayed asleep on
    # a lock: the bench waited for it after the last COPY until it was killed by hand.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def seed_citizens(url: str, citizens: int, trips_each: int, today: date,
                  report: Callable[[int], None]) -> None:
    """COPY the citizens in chunks from two processes (the machine's cores)."""
    dsn = psycopg_dsn(url)
    chunks = [(dsn, first, min(first + CHUNK_USERS, citizens), trips_each, today.isoformat())
              for first in range(0, citizens, CHUNK_USERS)]
    with get_context("fork").Pool(int(os.environ.get("TANHUI_CITY_SEED_PROCESSES", "2")),
                                  initializer=_default_sigterm) as pool:
        for done in pool.imap_unordered(_load_chunk, chunks):
            report(done)


def recreate(engine, statements: list[str], report: Callable[[str], None]) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SET maintenance_work_mem = '512MB'"))
        for statement in statements:
            report(statement[:90])
            conn.execute(sa.text(statement))
        conn.execute(sa.text(f"ANALYZE user_account, points_account, {', '.join(BIG_TABLES)}"))


def uscc(i: int) -> str:
    body = f"913213{i:011d}"
    return body + check_character(body)


def _enterprise_streams(count: int, owner: str, regulator: str) -> Iterator[tuple[str, str]]:
    """Confirmed enterprises, each with annual reports for 2023-2025 (every tenth period
    corrected once), two lines per revision, and credits retired against a quarter of the
    revisions of 2024 and 2025 (so a disclosure page reads retirements as a city's would, some
    made against a revision since corrected)."""
    enterprises, members, reports, lines, retirements = [], [], [], [], []
    for i in range(count):
        eid = f"e{i:07d}-0000-4000-8000-{i:012x}"
        enterprises.append(f"{eid}\t南充企业{i:05d}\t{uscc(i)}\t{COUNTIES[i % 9]}\t"
                           f"{INDUSTRIES[i % 8]}\t{owner}\t{EPOCH}\tconfirmed\t{EPOCH}\t"
                           f"{regulator}\tchecked\n")
        members.append(f"{eid}\t{owner}\n")
        for year in (2023, 2024, 2025):
            revisions = 2 if (i + year) % 10 == 0 else 1
            previous = "\\N"
            for revision in range(1, revisions + 1):
                rid = f"r{i:07d}-{year}-4{revision:03d}-8000-{i:012x}"
                scope1 = Decimal(1000 + (i * 37 + year) % 9000)
                scope2 = Decimal(500 + (i * 11 + year) % 4000)
                current = "t" if revision == revisions else "f"
                reports.append(f"{rid}\t{eid}\t{year}\t{revision}\t{current}\t{previous}\t"
                               f"{scope1}.0000\t{scope2}.0000\t{scope1 + scope2}.0000\t{owner}\t"
                               f"{year + 1}-03-31 00:00:00+00\n")
                for n, (scope, tco2e) in enumerate(((1, scope1), (2, scope2)), 1):
                    lines.append(f"{rid}\t{n}\tfactor.{scope}\tv1\t1.000000000000\tt\tseed\t"
                                 f"{scope}\t{tco2e}.000000\tt\t{tco2e}.0000\t{tco2e} x 1\n")
                if year >= 2024 and (i + revision) % 4 == 0:
                    retirements.append(f"ret-{rid}\t{rid}\t{100 + i % 50}\tcert-{rid}\t"
                                       f"{year + 1}-06-30 00:00:00+00\n")
                previous = rid
    yield "enterprise", "".join(enterprises)
    yield "enterprise_member", "".join(members)
    yield "carbon_report", "".join(reports)
    yield "report_line", "".join(lines)
    yield "report_retirement", "".join(retirements)


def seed_enterprises(url: str, count: int, owner: str, regulator: str) -> None:
    columns = {"enterprise": "id, name, uscc, county, industry, created_by, created_at, "
                             "claim_status, decided_at, decided_by, decision_reason",
               "enterprise_member": "enterprise_id, user_id",
               "carbon_report": "id, enterprise_id, period, revision, is_current, supersedes_id, "
                                "scope1_tco2e, scope2_tco2e, total_tco2e, filed_by, filed_at",
               "report_line": "report_id, line_no, factor_code, factor_version, factor_value, "
                              "factor_unit, factor_source, scope, quantity, unit, tco2e, "
                              "derivation",
               "report_retirement": "retirement_id, report_id, quantity, certificate_id, "
                                    "retired_at"}
    with psycopg.connect(psycopg_dsn(url)) as conn, conn.cursor() as cursor:
        for table, text in _enterprise_streams(count, owner, regulator):
            with cursor.copy(f"COPY {table} ({columns[table]}) FROM STDIN") as copy:
                copy.write(text)
        cursor.execute("ANALYZE enterprise, carbon_report, report_line, enterprise_member, "
                       "disclosure_entry, report_retirement")
