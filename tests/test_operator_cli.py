"""The operators' CLI (tools/tanhui_ops.py): users, emission-factor imports (all rows or none),
CSV/XLSX exports of the public datasets, the registry audit (chain and balances) and the
cross-service reconciliation, each with its exit code."""
from __future__ import annotations

import csv
import re
import subprocess
import sys
import uuid
import zipfile
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from e2e_support import confirm_enterprise, eventually, register_and_login
from tanhui_shared.db import make_engine
from tanhui_shared.settings import REPO_ROOT
from test_console_support import issue_credits, uscc
from test_sagas import daily_trips

TOOLS = REPO_ROOT / "tools"
sys.path.insert(0, str(TOOLS))
import tanhui_ops  # noqa: E402
from xlsx import column_name  # noqa: E402

pytestmark = pytest.mark.infra  # PostgreSQL databases, and the platform for exports, audit, reconcile

HEADER = "code,name,scope,activity_unit,value,source,version,valid_from,valid_to\n"


def ops(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / "tanhui_ops.py"), *args], input=stdin,
                          text=True, capture_output=True, timeout=120)


def current(url: str) -> dict:
    """The live version of each code valid today (issue 13: versions have validity periods)."""
    from datetime import date

    from tanhui_accounts.store.factors import list_versions, to_domain

    engine = make_engine(url, pool_size=1)
    with Session(engine) as session:
        found = {row.code: to_domain(row) for row in list_versions(session, valid_on=date.today())}
    engine.dispose()
    return found


def test_factor_rows_are_checked_with_their_line_numbers():
    factors, errors = tanhui_ops.parse_factors(HEADER + (
        "grid.sichuan.2024,Sichuan grid 2024,2,kWh,0.000150,MEE notice,2024,2024-01-01,\n"
        "fuel.coke,Coke,3,t,2.86,guideline,2015,2015-01-01,\n"
        "fuel.lpg,LPG,1,barrel,-1,guideline,2015,2015-13-01,\n"
        "grid.sichuan.2024,again,2,kWh,0.00015,MEE notice,2024,2024-01-01,2023-01-01\n"))
    assert [f.code for _, f in factors] == ["grid.sichuan.2024"]
    text = [str(e) for e in errors]
    assert any(e.startswith("line 3: scope") for e in text), text
    assert {e.split(":")[0] for e in text} == {"line 3", "line 4", "line 5"}
    assert any("activity_unit 'barrel'" in e for e in text) and any("valid_from" in e for e in text)
    assert any("also on line 2" in e for e in text) and any("valid_to must be after" in e for e in text)
    assert tanhui_ops.parse_factors("code,name\nx,y\n")[1][0].line == 1


def test_a_good_csv_publishes_new_versions_and_a_bad_one_publishes_nothing(migrated_database, tmp_path):
    url = migrated_database("accounts")
    before = current(url)
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "grid.sichuan.2024,Sichuan provincial grid electricity 2024,2,kWh,0.0001489,"
                    "MEE & NBS 2024 factors,2024,2024-01-01,\n"
                    "fuel.diesel,Diesel,1,t,3.0960,guideline (rounded),2026,2026-01-01,\n", encoding="utf-8")
    done = ops("import-factors", str(good), "--database-url", url)
    assert done.returncode == 0, done.stderr
    after = current(url)
    assert after["grid.sichuan.2024"].value == Decimal("0.0001489")
    assert after["fuel.diesel"].version == "2026" and len(after) == len(before) + 1

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "fuel.lpg,LPG,1,t,3.1013,guideline,2015,2015-01-01,\n"
                   "fuel.diesel,Diesel,1,t,3.0960,guideline,2026,2026-01-01,\n"  # published already
                   "fuel.coke,Coke,1,t,abc,guideline,2015,2015-01-01,\n", encoding="utf-8")
    refused = ops("import-factors", str(bad), "--database-url", url)
    assert refused.returncode == 1
    assert "line 4" in refused.stderr and "nothing was imported" in refused.stderr
    assert "fuel.lpg" not in current(url)  # the good first row was rolled back with the rest


def test_an_already_published_version_is_refused_naming_its_line(migrated_database, tmp_path):
    url = migrated_database("accounts")
    csv_file = tmp_path / "dup.csv"
    csv_file.write_text(HEADER + "fuel.lpg,LPG,1,t,3.1013,guideline,2015,2015-01-01,\n"
                        "fuel.diesel,Diesel,1,t,3.0959,guideline,2015,2015-01-01,\n", encoding="utf-8")
    refused = ops("import-factors", str(csv_file), "--database-url", url)
    assert refused.returncode == 1
    assert "line 3: fuel.diesel version 2015 is already published" in refused.stderr
    assert "fuel.lpg" not in current(url)


def test_operators_create_regulators_and_admins_but_not_twice(migrated_database):
    url = migrated_database("accounts")
    made = ops("create-user", "regulator-li", "--role", "regulator", "--password-stdin",
               "--database-url", url, stdin="a long password\n")
    assert made.returncode == 0 and "created regulator regulator-li" in made.stdout
    again = ops("create-user", "regulator-li", "--role", "admin", "--password-stdin",
                "--database-url", url, stdin="a long password\n")
    assert again.returncode == 1 and "taken" in again.stderr
    assert ops("create-user", "x-citizen", "--role", "citizen", "--password-stdin",
               "--database-url", url, stdin="a long password\n").returncode == 2  # argparse


def test_column_names_run_past_z():
    assert [column_name(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]


def test_disclosures_and_registry_export_as_xlsx_and_csv(platform, tmp_path):
    name = f"营山机械厂-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as gw:
        _, firm = register_and_login(gw, "enterprise")
        enterprise = gw.post("/api/v1/enterprises", headers=firm, json={
            "name": name, "uscc": uscc(), "county": "营山县", "industry": "机械制造"}).json()
        confirm_enterprise(gw, enterprise["id"])
        assert gw.post(f"/api/v1/enterprises/{enterprise['id']}/reports", headers=firm, json={
            "period": "2025", "activities": [{"factor_code": "fuel.diesel", "quantity": "10", "unit": "t"}]}
        ).status_code == 201
    out = tmp_path / "disclosures.xlsx"
    done = ops("export", "disclosures", "--format", "xlsx", "--out", str(out), "--period", "2025",
               "--gateway", platform.gateway_url)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as xlsx:
        assert xlsx.testzip() is None
        assert "xl/workbook.xml" in xlsx.namelist()
        sheet = xlsx.read("xl/worksheets/sheet1.xml").decode()
    assert "<t xml:space=\"preserve\">enterprise</t>" in sheet
    assert "<t xml:space=\"preserve\">gross_tco2e</t>" in sheet
    rows = re.findall(r"<row r=\"\d+\">(.*?)</row>", sheet)
    row = next(r for r in rows if name in r)
    assert "<v>30.9591</v>" in row  # 10 t diesel x 3.09591, a number cell
    # every disclosure of the period once (page after page by cursor), under a header row
    total = httpx.get(f"{platform.gateway_url}/api/v1/disclosures",
                      params={"period": "2025", "limit": 1}).json()["total"]
    assert len(rows) - 1 == total
    registry = tmp_path / "registry.csv"
    assert ops("export", "registry", "--out", str(registry), "--gateway", platform.gateway_url).returncode == 0
    with registry.open(encoding="utf-8-sig") as f:
        header = next(csv.reader(f))
    assert header[:4] == ["project_number", "project_name", "project_id", "vintage"]


def execute(url: str, *statements: tuple[str, dict]) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            for sql, params in statements:
                conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def test_the_audit_exits_0_on_an_intact_chain_and_1_on_a_tampered_one(platform):
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as gw:
        issue_credits(gw)  # at least one issuance on the chain, whichever tests ran before
    url = platform.database_urls["credits"]
    sound = ops("audit", "--database-url", url)
    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert "audit chain intact" in sound.stdout and "registry balances: 0 discrepancies" in sound.stdout
    engine = make_engine(url, pool_size=1)
    with engine.begin() as conn:
        first = conn.execute(sa.text("SELECT seq, body FROM audit_entry ORDER BY seq LIMIT 1")).one()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_entry SET body = :b WHERE seq = :s"),
                         {"b": first.body.replace('"kind"', '"kind "'), "s": first.seq})
        broken = ops("audit", "--database-url", url)
        assert broken.returncode == 1 and f"BROKEN at entry {first.seq}" in broken.stdout
    finally:
        with engine.begin() as conn:  # the rest of the session's tests share this registry
            conn.execute(sa.text("UPDATE audit_entry SET body = :b WHERE seq = :s"),
                         {"b": first.body, "s": first.seq})
        engine.dispose()
    assert ops("audit", "--database-url", url).returncode == 0


def test_the_audit_exits_1_when_the_registry_does_not_add_up(migrated_database):
    url = migrated_database("credits")
    # an issuance whose serials are in no block: issued 100, held + retired + buffer 0
    execute(url, ("INSERT INTO issuance (id, project_id, vintage, monitoring_report_id, "
                  "verification_id, verifier_user_id, period_start, period_end, verified_tco2e, "
                  "buffer_pct, owner_account_id, owner_quantity, buffer_quantity, serial_first, "
                  "serial_last, issued_at, caused_by_event) VALUES ('iss-x', 'proj-x', 2024, "
                  "'mr-x', 'v-x', 'verifier', '2024-01-01', '2024-12-31', 125, 20, 'acct-x', 100, "
                  "25, 1, 125, now(), 'event-x')", {}))
    found = ops("audit", "--database-url", url)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "audit chain intact" in found.stdout
    line = next(x for x in found.stdout.splitlines() if "unbalanced" in x)
    assert "proj-x" in line and "issued 125" in line, found.stdout
    assert "registry balances: 1 discrepancy" in found.stdout


def reconcile(platform, *extra: str) -> subprocess.CompletedProcess:
    urls = platform.database_urls
    return ops("reconcile", "--accounts-database-url", urls["accounts"],
               "--verification-database-url", urls["verification"],
               "--credits-database-url", urls["credits"], *extra)


def test_reconcile_finds_the_services_agreeing_then_names_every_planted_difference(platform):
    """Real flows through the gateway (an issuance, a citizen's trips and a settled redemption),
    then differences planted with raw SQL, each printed on a line of its own."""
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as gw:
        developer = issue_credits(gw)
        assert gw.post("/api/v1/transfers", headers=developer["headers"], json={
            "to_username": "city-inclusion-pool", "quantity": 2}).status_code == 201
        citizen, me = register_and_login(gw, "citizen")
        _, operator = register_and_login(gw, "transit_operator")
        fed = gw.post("/api/v1/trips/batch", headers=operator,
                      json={"trips": daily_trips(citizen["username"], 100)})
        assert fed.status_code == 200 and fed.json()["points_awarded"] == 100_000, fed.text
        asked = gw.post("/api/v1/me/redemptions", headers=me, json={"points": 100_000})
        assert asked.status_code == 202, asked.text
        done = eventually(lambda: gw.get(f"/api/v1/me/redemptions/{asked.json()['id']}", headers=me),
                          lambda r: r.json()["state"] != "pending", what="RedemptionCompleted")
        assert done.json()["state"] == "completed", done.text
        report_id = eventually(
            lambda: gw.get("/api/v1/projects/" + developer["project_id"], headers=developer["headers"]),
            lambda r: r.status_code == 200).json()["timeline"][-1]["monitoring_report_id"]
    agreed = reconcile(platform)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    summary = agreed.stdout.splitlines()[-1]
    assert "the services agree" in summary and re.search(r"compared [1-9]\d* redemptions", summary)

    user_id, accounts = citizen["id"], platform.database_urls["accounts"]
    ghost = str(uuid.uuid4())
    execute(accounts,  # an entry that moved no balance, and a settled redemption credits never saw
            ("INSERT INTO points_entry (user_id, kind, points, balance_after, held_after, created_at) "
             "VALUES (:u, 'earn', 7, 7, 0, now())", {"u": user_id}),
            ("INSERT INTO redemption (id, user_id, points, kg, state, created_at, settled_at) "
             "VALUES (:r, :u, 100000, 1000, 'completed', now() - interval '1 day', "
             "now() - interval '1 day')", {"r": ghost, "u": user_id}))
    execute(platform.database_urls["verification"],  # the report says one credit more was issued
            ("UPDATE monitoring_report SET issued_quantity = issued_quantity + 1 WHERE id = :r",
             {"r": report_id}))
    try:
        found = reconcile(platform)
        lines = found.stdout.splitlines()
        assert found.returncode == 1, found.stdout + found.stderr
        assert any(f"points account of user {user_id}" in x and "entries sum to balance 7" in x
                   for x in lines), found.stdout
        assert any(f"redemptions: redemption {ghost}" in x and "no retirement in credits" in x
                   for x in lines), found.stdout
        assert any(f"points: redemption {ghost}" in x and "its points entries are none" in x
                   for x in lines), found.stdout
        assert any(f"(monitoring report {report_id})" in x and "1001 + 250 buffer in verification, "
                   "1000 + 250 buffer in credits" in x for x in lines), found.stdout
        assert re.search(r"reconcile: compared .*: [4-9] difference\(s\)", lines[-1]), found.stdout
    finally:  # the rest of the session's tests share these databases
        execute(accounts, ("DELETE FROM points_entry WHERE user_id = :u AND kind = 'earn' AND "
                           "points = 7 AND balance_after = 7", {"u": user_id}),
                ("DELETE FROM redemption WHERE id = :r", {"r": ghost}))
        execute(platform.database_urls["verification"],
                ("UPDATE monitoring_report SET issued_quantity = issued_quantity - 1 WHERE id = :r",
                 {"r": report_id}))
    assert reconcile(platform).returncode == 0
