"""Operators' command line for tanhui.

  uv run python tools/tanhui_ops.py create-user NAME --role regulator   (password on stdin or prompt)
  uv run python tools/tanhui_ops.py grant-accreditation NAME --role transit_operator --mode bus
        --mode metro --organisation ORG --number LICENCE --valid-from 2026-01-01 --valid-to 2028-12-31
        (also revoke-accreditation, rotate-client-secret, list-accreditations; secrets print once)
  uv run python tools/tanhui_ops.py import-factors factors.csv          (all rows or none)
  uv run python tools/tanhui_ops.py export disclosures --format xlsx --out disclosures.xlsx
  uv run python tools/tanhui_ops.py export registry --format csv --out registry.csv
  uv run python tools/tanhui_ops.py audit         (the registry's chain and balances; exit 0 if sound)
  uv run python tools/tanhui_ops.py reconcile     (the services vs each other; exit 0 if they agree)

A service's database is its --*database-url option, else TANHUI_<SERVICE>_DATABASE_URL, else its
`make up` database on the local cluster (tanhui_<service> on 127.0.0.1, port TANHUI_PG_PORT or
15432). Exports read the gateway's public endpoints: --gateway, else TANHUI_GATEWAY_URL, else
http://127.0.0.1:8000.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from xlsx import write_xlsx  # noqa: E402  (tools/ is a folder of scripts, not a package)

FACTOR_COLUMNS = ["code", "name", "scope", "activity_unit", "value", "source", "version",
                  "valid_from", "valid_to"]


def database_url(service: str, given: str | None) -> str:
    from tanhui_shared.settings import local_database_url

    return given or os.environ.get(f"TANHUI_{service.upper()}_DATABASE_URL") or local_database_url(service)


def accounts_database_url(given: str | None) -> str:
    return database_url("accounts", given)


def gateway_url(given: str | None) -> str:
    return (given or os.environ.get("TANHUI_GATEWAY_URL") or "http://127.0.0.1:8000").rstrip("/")


# --- users -------------------------------------------------------------------------------------

def create_user_command(args: argparse.Namespace) -> int:
    from tanhui_accounts.cli import create_user_interactively
    from tanhui_accounts.domain.identity import Role

    return create_user_interactively(accounts_database_url(args.database_url), args.username,
                                     Role(args.role), args.password_stdin)


def accreditation_command(args: argparse.Namespace) -> int:
    """grant-accreditation, revoke-accreditation, rotate-client-secret, list-accreditations:
    the accounts CLI's commands, on the accounts database named here."""
    from tanhui_accounts.cli_accreditations import run_command

    return run_command(args, accounts_database_url(args.database_url))


# --- emission factors --------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    line: int  # the CSV file's line number (the header is line 1)
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_factors(text: str):
    """CSV text -> (EmissionFactor list, errors). Any error means nothing is imported."""
    from tanhui_shared.methodology import EmissionFactor
    from tanhui_accounts.domain.units import KNOWN_UNITS

    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != FACTOR_COLUMNS:
        return [], [RowError(1, f"the header must be exactly: {','.join(FACTOR_COLUMNS)}")]
    factors, errors, seen = [], [], {}
    for row in reader:
        line = reader.line_num
        problems = []
        if None in row or any(v is None for v in row.values()):
            errors.append(RowError(line, f"expected {len(FACTOR_COLUMNS)} columns"))
            continue
        row = {k.strip(): v.strip() for k, v in row.items()}
        for required in ("code", "name", "source", "version"):
            if not row[required]:
                problems.append(f"{required} is empty")
        scope = row["scope"]
        if scope not in ("1", "2"):
            problems.append(f"scope must be 1 (direct) or 2 (purchased electricity or heat), not {scope!r}")
        if row["activity_unit"] not in KNOWN_UNITS:
            problems.append(f"activity_unit {row['activity_unit']!r} is not one of {', '.join(KNOWN_UNITS)}")
        try:
            value = Decimal(row["value"])
            if not value.is_finite() or value <= 0 or value > 1000:
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"value must be a number of tCO2 per unit, > 0 and <= 1000, not {row['value']!r}")
            value = None
        try:
            valid_from = date.fromisoformat(row["valid_from"])
        except ValueError:
            problems.append(f"valid_from must be a date YYYY-MM-DD, not {row['valid_from']!r}")
            valid_from = None
        valid_to = None
        if row["valid_to"]:
            try:
                valid_to = date.fromisoformat(row["valid_to"])
                if valid_from and valid_to <= valid_from:
                    problems.append("valid_to must be after valid_from")
            except ValueError:
                problems.append(f"valid_to must be empty or a date YYYY-MM-DD, not {row['valid_to']!r}")
        key = (row["code"], row["version"])
        if key in seen:
            problems.append(f"{row['code']} version {row['version']} is also on line {seen[key]}")
        seen.setdefault(key, line)
        if problems:
            errors.extend(RowError(line, p) for p in problems)
            continue
        # scope 1 and 2 factors are all energy in the guide's categories
        factors.append((line, EmissionFactor(row["code"], row["name"], "energy", int(scope), row["activity_unit"],
                                             value, row["source"], row["version"], valid_from, valid_to)))
    if not factors and not errors:
        errors.append(RowError(2, "no factor rows"))
    return factors, errors


def import_factors(database_url: str, text: str) -> tuple[int, list[RowError]]:
    """Publish every row as a new version in one transaction, or none of them."""
    from sqlmodel import Session, select
    from tanhui_accounts.store.factors import publish_factor_version
    from tanhui_accounts.store.tables import FactorVersion
    from tanhui_shared.db import make_engine

    factors, errors = parse_factors(text)
    if errors:
        return 0, errors
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            for line, factor in factors:
                if session.exec(select(FactorVersion.id).where(FactorVersion.code == factor.code,
                                                               FactorVersion.version == factor.version)).first():
                    errors.append(RowError(line, f"{factor.code} version {factor.version} is already "
                                                 "published; give the new values a new version"))
                else:
                    publish_factor_version(session, factor)
            if errors:
                raise _Refused  # leaving session.begin() by an exception rolls every row back
    except _Refused:
        return 0, errors
    finally:
        engine.dispose()
    return len(factors), []


class _Refused(Exception):
    pass


def import_factors_command(args: argparse.Namespace) -> int:
    count, errors = import_factors(accounts_database_url(args.database_url),
                                   Path(args.csv).read_text(encoding="utf-8-sig"))
    for error in errors:
        print(f"{args.csv}: {error}", file=sys.stderr)
    if errors:
        print(f"refused: {len(errors)} problem(s); nothing was imported", file=sys.stderr)
        return 1
    print(f"published {count} factor version(s) from {args.csv}")
    return 0


# --- exports -----------------------------------------------------------------------------------

# dataset -> (public endpoint, [(column, numeric?)])
DATASETS = {
    "disclosures": ("/api/v1/disclosures", [
        ("enterprise", False), ("uscc", False), ("county", False), ("industry", False),
        # gross beside retired and net: retirements never reduce the inventory (GHG Protocol)
        ("period", False), ("revision", True), ("report_id", False), ("gross_tco2e", True),
        ("retired_tco2e", True), ("net_tco2e", True), ("filed_at", False)]),
    "registry": ("/api/v1/registry/projects", [
        ("project_number", True), ("project_name", False), ("project_id", False), ("vintage", True),
        ("issued", True), ("held", True), ("retired", True), ("buffer", True),
        ("cancelled", True)]),
}


def _read_all(url: str, dataset: str, period: str | None) -> list[dict]:
    """The registry's totals are one list; the disclosures come a page at a time (at most 200
    each), each page after the previous one's `next` cursor (an index range on the server, where
    an offset would skip every row before it) until there is none."""
    if dataset != "disclosures":
        reply = httpx.get(url, timeout=60)
        reply.raise_for_status()
        return reply.json()
    items: list[dict] = []
    after: str | None = None
    while True:
        params = {"limit": 200, **({"period": period} if period else {}),
                  **({"after": after} if after else {})}
        reply = httpx.get(url, params=params, timeout=60)
        reply.raise_for_status()
        page = reply.json()
        items += page["items"]
        after = page["next"]
        if not after:
            return items


def fetch_rows(gateway: str, dataset: str, period: str | None = None) -> list[list[object]]:
    path, columns = DATASETS[dataset]
    rows: list[list[object]] = [[name for name, _ in columns]]
    for item in _read_all(gateway + path, dataset, period):
        rows.append([Decimal(str(item[name])) if numeric and item.get(name) is not None
                     else item.get(name) for name, numeric in columns])
    return rows


def export_command(args: argparse.Namespace) -> int:
    try:
        rows = fetch_rows(gateway_url(args.gateway), args.dataset, args.period)
    except httpx.HTTPError as exc:
        print(f"error: cannot read {args.dataset} from the gateway: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.format == "xlsx":
        write_xlsx(out, args.dataset, rows)
    else:
        with out.open("w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel reads UTF-8
            csv.writer(f).writerows(rows)
    print(f"wrote {len(rows) - 1} {args.dataset} row(s) to {out}")
    return 0


# --- audit and reconciliation -----------------------------------------------------------------

def describe(discrepancy: dict) -> str:
    """One line for one of registry_discrepancies()' findings, whatever keys it has."""
    kind = discrepancy.get("kind", "discrepancy")
    return f"{kind}: " + ", ".join(f"{k} {v}" for k, v in discrepancy.items() if k != "kind")


def audit_command(args: argparse.Namespace) -> int:
    """The hash chain, then issued = held + retired + buffer per project and vintage and no
    serial in two live blocks, both recomputed from the credits database."""
    from sqlmodel import Session
    from tanhui_credits.store.audit import verify_chain
    from tanhui_credits.store.reconcile import registry_discrepancies
    from tanhui_shared.db import make_engine

    engine = make_engine(database_url("credits", args.database_url), pool_size=1)
    try:
        with Session(engine) as session:
            chain = verify_chain(session)
            found = registry_discrepancies(session)
    except Exception as exc:  # noqa: BLE001 - unreachable, missing tables...: exit 2, say why
        print(f"error: cannot read the credits database: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if chain.get("intact"):
        print(f"audit chain intact: {chain.get('entries')} entries"
              f" ({chain.get('pending')} pending, not chained yet)")
    else:
        broken = chain.get("first_broken") or {}
        print(f"audit chain BROKEN at entry {broken.get('seq')}: {broken.get('reason')}")
    for discrepancy in found:
        print(f"registry balance: {describe(discrepancy)}")
    print(f"registry balances: {len(found)} discrepanc{'y' if len(found) == 1 else 'ies'} "
          "(issued = held + retired + buffer per project and vintage; no serial in two live blocks)")
    return 0 if chain.get("intact") and not found else 1


def reconcile_command(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ops_reconcile import reconcile, report

    urls = [database_url(s, getattr(args, f"{s}_database_url"))
            for s in ("accounts", "verification", "credits")]
    try:
        result = reconcile(*urls, grace=timedelta(seconds=args.grace))
    except Exception as exc:  # noqa: BLE001 - unreachable, missing tables...: exit 2, say why
        print(f"error: cannot read the services' databases: {exc}", file=sys.stderr)
        return 2
    print(report(result))
    return 1 if result.differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tanhui_ops", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    user = sub.add_parser("create-user", help="create an admin or regulator user")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=["admin", "regulator"])
    user.add_argument("--password-stdin", action="store_true")
    user.add_argument("--database-url")
    user.set_defaults(run=create_user_command)
    from tanhui_accounts.cli_accreditations import add_commands

    for command in add_commands(sub):
        command.add_argument("--database-url")
        command.set_defaults(run=accreditation_command)
    factors = sub.add_parser("import-factors", help="publish emission-factor versions from a CSV")
    factors.add_argument("csv")
    factors.add_argument("--database-url")
    factors.set_defaults(run=import_factors_command)
    export = sub.add_parser("export", help="export a public dataset as CSV or XLSX")
    export.add_argument("dataset", choices=sorted(DATASETS))
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--out", required=True)
    export.add_argument("--period", help="disclosures only: 2025, 2025-Q1 or 2025-03")
    export.add_argument("--gateway")
    export.set_defaults(run=export_command)
    audit = sub.add_parser("audit", help="check the registry's audit chain and its balances")
    audit.add_argument("--database-url", help="the credits database")
    audit.set_defaults(run=audit_command)
    rec = sub.add_parser("reconcile", help="compare the three services' databases with each other")
    for service in ("accounts", "verification", "credits"):
        rec.add_argument(f"--{service}-database-url")
    rec.add_argument("--grace", type=float, default=120, metavar="SECONDS",
                     help="a mismatch younger than this is an event still in flight, not a "
                          "difference (default 120)")
    rec.set_defaults(run=reconcile_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
