"""Operators' command line for tanhui.

  uv run python tools/tanhui_ops.py create-user NAME --role regulator   (password on stdin or prompt)
  uv run python tools/tanhui_ops.py import-factors factors.csv          (all rows or none)
  uv run python tools/tanhui_ops.py export disclosures --format xlsx --out disclosures.xlsx
  uv run python tools/tanhui_ops.py export registry --format csv --out registry.csv
  uv run python tools/tanhui_ops.py audit                               (exit 0 intact, 1 broken)

The accounts database is --database-url, else TANHUI_ACCOUNTS_DATABASE_URL, else the `make up`
SQLite file .var/accounts.db. Exports and the audit check read the gateway's public endpoints:
--gateway, else TANHUI_GATEWAY_URL, else http://127.0.0.1:8000.
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

REPO_ROOT = Path(__file__).resolve().parents[1]
FACTOR_COLUMNS = ["code", "name", "scope", "activity_unit", "value", "source", "version",
                  "valid_from", "valid_to"]


def accounts_database_url(given: str | None) -> str:
    url = given or os.environ.get("TANHUI_ACCOUNTS_DATABASE_URL")
    if url:
        return url
    default = REPO_ROOT / ".var" / "accounts.db"
    if default.exists():
        return f"sqlite:///{default}"
    raise SystemExit("error: no accounts database: pass --database-url or set "
                     "TANHUI_ACCOUNTS_DATABASE_URL (`make up` uses .var/accounts.db)")


def gateway_url(given: str | None) -> str:
    return (given or os.environ.get("TANHUI_GATEWAY_URL") or "http://127.0.0.1:8000").rstrip("/")


# --- users -------------------------------------------------------------------------------------

def create_user_command(args: argparse.Namespace) -> int:
    from tanhui_accounts.cli import create_user_interactively
    from tanhui_accounts.domain.identity import Role

    return create_user_interactively(accounts_database_url(args.database_url), args.username,
                                     Role(args.role), args.password_stdin)


# --- emission factors --------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    line: int  # the CSV file's line number (the header is line 1)
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_factors(text: str):
    """CSV text -> (EmissionFactor list, errors). Any error means nothing is imported."""
    from tanhui_accounts.domain.factors import EmissionFactor
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
            problems.append(f"scope must be 1 (direct) or 2 (purchased electricity), not {scope!r}")
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
        factors.append((line, EmissionFactor(row["code"], row["name"], int(scope), row["activity_unit"],
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
        ("period", False), ("revision", True), ("report_id", False), ("total_tco2e", True),
        ("retired_tco2e", True), ("net_tco2e", True), ("filed_at", False)]),
    "registry": ("/api/v1/registry/projects", [
        ("project_number", True), ("project_name", False), ("project_id", False), ("vintage", True),
        ("issued", True), ("held", True), ("retired", True), ("buffer", True)]),
}


def fetch_rows(gateway: str, dataset: str, period: str | None = None) -> list[list[object]]:
    path, columns = DATASETS[dataset]
    params = {"period": period} if period and dataset == "disclosures" else None
    reply = httpx.get(gateway + path, params=params, timeout=60)
    reply.raise_for_status()
    rows: list[list[object]] = [[name for name, _ in columns]]
    for item in reply.json():
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


# --- audit -------------------------------------------------------------------------------------

def audit_command(args: argparse.Namespace) -> int:
    try:
        reply = httpx.get(gateway_url(args.gateway) + "/api/v1/registry/audit/verify", timeout=120)
        reply.raise_for_status()
        result = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        print(f"error: cannot check the audit chain: {exc}", file=sys.stderr)
        return 2
    if result.get("intact"):
        print(f"audit chain intact: {result.get('entries')} entries")
        return 0
    broken = result.get("first_broken") or {}
    print(f"audit chain BROKEN at entry {broken.get('seq')}: {broken.get('reason')}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tanhui_ops", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    user = sub.add_parser("create-user", help="create an admin or regulator user")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=["admin", "regulator"])
    user.add_argument("--password-stdin", action="store_true")
    user.add_argument("--database-url")
    user.set_defaults(run=create_user_command)
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
    audit = sub.add_parser("audit", help="check the registry's hash-chained audit log")
    audit.add_argument("--gateway")
    audit.set_defaults(run=audit_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
