"""Seeding a city's credits registry for city_scale.py: projects, issuances, serial blocks with
their lineage (each issuance split again and again: a part transferred to a holder or retired,
the rest kept), the audit entries that created and closed each block, chained with the
registry's own hash, and a retirement with its certificate for every retired block.
COPY from generated text into a database migrated by the real migrations; the registry
totals' triggers stay on, so the rollup is built as in production.
"""
from __future__ import annotations

from datetime import date

import psycopg

from tanhui_credits.domain.hashing import GENESIS_HASH, canonical_json, certificate_hash, chain_hash
from tanhui_credits.store.accounts import BUFFER_POOL_ID

from city_seed import psycopg_dsn

VINTAGES = (2021, 2022, 2023, 2024, 2025)
PART = 10  # credits each split takes off
RECORDED = "2025-06-30T00:00:00+00:00"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class Streams:
    """The rows of each table as COPY text, and the audit chain as it grows."""

    def __init__(self) -> None:
        self.rows: dict[str, list[str]] = {t: [] for t in (
            "holding_account", "registry_project", "issuance", "serial_counter", "serial_block",
            "audit_entry", "retirement", "certificate")}
        self.seq, self.head, self.block_id = 0, GENESIS_HASH, 0

    def add(self, table: str, *values) -> None:
        self.rows[table].append("\t".join("\\N" if v is None else _esc(str(v)) for v in values)
                                + "\n")

    def entry(self, kind: str, details: dict) -> str:
        self.seq += 1
        entry_id = f"audit-{self.seq:09d}"
        body = {"entry_id": entry_id, "kind": kind, "recorded_at": RECORDED, "details": details}
        link = chain_hash(self.head, body)
        self.add("audit_entry", self.seq, entry_id, kind, canonical_json(body), self.head, link)
        self.head = link
        return entry_id

    def block(self, project: str, number: int, vintage: int, first: int, last: int,
              account: str, status: str, parent: int | None, issuance: str, created_by: str,
              closed_by: str | None = None, retirement: str | None = None) -> int:
        self.block_id += 1
        self.add("serial_block", self.block_id, project, number, vintage, first, last, account,
                 status, parent, issuance, None, retirement, None, created_by, closed_by,
                 "2025-06-30 00:00:00+00")
        return self.block_id


def _issuance(s: Streams, number: int, vintage: int, steps: int, holders: int) -> None:
    """One issuance of `steps` parts plus a remainder, 10% to the buffer pool: 2 x steps + 2
    blocks. The closing entries are written as the lineage goes, so the chain is in order."""
    project, owner = f"project-{number:05d}", f"dev-{number:05d}"
    issuance = f"issuance-{number:05d}-{vintage}"
    owner_quantity = PART * (steps + 1)
    buffer = owner_quantity // 9
    s.add("issuance", issuance, project, vintage, f"mr-{number}-{vintage}", f"v-{number}-{vintage}",
          "verifier", date(vintage, 1, 1), date(vintage, 12, 31),
          f"{owner_quantity + buffer}.000", "10.00", owner, owner_quantity, buffer, 1,
          owner_quantity + buffer, f"{vintage + 1}-03-31 00:00:00+00", f"event-{issuance}")
    s.add("serial_counter", project, vintage, owner_quantity + buffer + 1)
    issued = s.entry("issue", {"issuance_id": issuance, "serials": [1, owner_quantity + buffer]})
    s.block(project, number, vintage, owner_quantity + 1, owner_quantity + buffer,
            BUFFER_POOL_ID, "active", None, issuance, issued)
    rows_before = len(s.rows["serial_block"])
    parent, first, created = None, 1, issued
    for step in range(steps):
        moved = s.entry("retire" if step % 3 == 2 else "transfer",
                        {"from_block": parent, "quantity": PART})
        # the parent's closing entry: its row is written below, once it is known
        holder = f"org-{(number * 31 + step) % holders:05d}"
        retirement = None
        if step % 3 == 2:
            retirement = f"ret-{issuance}-{step}"
            certificate = f"cert-{issuance}-{step}"
            fields = {"retirement_id": retirement, "quantity": PART, "beneficiary": holder,
                      "serials": [first, first + PART - 1], "project": project}
            s.add("retirement", retirement, holder, holder, holder, "carbon neutrality", PART,
                  None, None, None, certificate, "2025-06-30 00:00:00+00")
            s.add("certificate", certificate, retirement, None, canonical_json(fields),
                  certificate_hash(fields))
        parent_row = parent
        if parent is None:  # the issuance's own block, closed by the first split
            parent = s.block(project, number, vintage, 1, owner_quantity, owner, "superseded",
                             None, issuance, created, moved)
        else:
            _close(s, parent_row, moved)
        s.block(project, number, vintage, first, first + PART - 1, holder,
                "retired" if retirement else "active", parent, issuance, moved, moved
                if retirement else None, retirement)
        rest = s.block(project, number, vintage, first + PART, owner_quantity, owner,
                       "superseded", parent, issuance, moved, "pending-close")
        parent, first = rest, first + PART
    _reopen(s, parent)
    assert len(s.rows["serial_block"]) - rows_before == 2 * steps + 1


def _close(s: Streams, block_id: int, entry_id: str) -> None:
    """Name the entry that closed a block written earlier as 'pending-close'."""
    for index in range(len(s.rows["serial_block"]) - 1, -1, -1):
        row = s.rows["serial_block"][index]
        if row.startswith(f"{block_id}\t"):
            s.rows["serial_block"][index] = row.replace("pending-close", entry_id)
            return
    raise LookupError(block_id)


def _reopen(s: Streams, block_id: int) -> None:
    """The last remainder stays with the developer: active, never closed."""
    for index in range(len(s.rows["serial_block"]) - 1, -1, -1):
        row = s.rows["serial_block"][index]
        if row.startswith(f"{block_id}\t"):
            s.rows["serial_block"][index] = row.replace("\tsuperseded\t", "\tactive\t").replace(
                "\tpending-close\t", "\t\\N\t")
            return
    raise LookupError(block_id)


COLUMNS = {
    "holding_account": "id, owner_user_id, owner_username, kind, opened_at, opened_by_event",
    "registry_project": "id, project_number, name, kind, county, owner_user_id",
    "issuance": "id, project_id, vintage, monitoring_report_id, verification_id, "
                "verifier_user_id, period_start, period_end, verified_tco2e, buffer_pct, "
                "owner_account_id, owner_quantity, buffer_quantity, serial_first, serial_last, "
                "issued_at, caused_by_event",
    "serial_counter": "project_id, vintage, next_serial",
    "audit_entry": "seq, entry_id, kind, body, prev_hash, hash",
    "retirement": "id, account_id, retired_by_user_id, beneficiary, purpose, quantity, "
                  "report_id, event_id, redemption_id, certificate_id, retired_at",
    "certificate": "id, retirement_id, redemption_id, fields, content_hash",
    "serial_block": 'id, project_id, project_number, vintage, "first", "last", account_id, '
                    "status, parent_block_id, issuance_id, listing_id, retirement_id, "
                    "compensation_id, created_by, closed_by, created_at",
}


def seed_registry(url: str, blocks: int) -> dict:
    """About `blocks` serial blocks: projects x 5 vintages of 200 blocks each (fewer at small
    scales). Returns what the measurements need (serials to look up)."""
    steps = 99 if blocks >= 1000 else 4
    issuances = max(1, blocks // (2 * steps + 2))
    projects = max(1, issuances // len(VINTAGES))
    holders = max(10, blocks // 100)
    s = Streams()
    for n in range(holders):
        s.add("holding_account", f"org-{n:05d}", f"org-{n:05d}", f"org-{n:05d}", "organisation",
              "2025-01-01 00:00:00+00", "seed")
    made = 0
    for number in range(1, projects + 1):
        s.add("holding_account", f"dev-{number:05d}", f"dev-{number:05d}", f"dev-{number:05d}",
              "organisation", "2025-01-01 00:00:00+00", "seed")
        s.add("registry_project", f"project-{number:05d}", number, f"嘉陵江造林 {number}",
              "afforestation", "嘉陵区", f"dev-{number:05d}")
        for vintage in VINTAGES:
            if made < issuances:
                _issuance(s, number, vintage, steps, holders)
                made += 1
    with psycopg.connect(psycopg_dsn(url)) as conn, conn.cursor() as cursor:
        for table, columns in COLUMNS.items():
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write("".join(s.rows[table]))
        cursor.execute("UPDATE audit_head SET last_seq = %s, last_hash = %s", (s.seq, s.head))
        cursor.execute("SELECT setval(pg_get_serial_sequence('serial_block', 'id'), %s)",
                       (s.block_id,))
        cursor.execute("ANALYZE serial_block, audit_entry, issuance, retirement, holding_account")
    return {"projects": projects, "issuances": made, "blocks": s.block_id,
            "serials_per_issuance": PART * (steps + 1), "audit_entries": s.seq}
