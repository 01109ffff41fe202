"""The operators' accreditation commands: the same use cases as the admin API, secrets printed
once, through `tanhui_accounts.cli` and `tools/tanhui_ops.py`."""
from __future__ import annotations

import argparse
import subprocess
import sys
import uuid
from datetime import timedelta

from accounts_client import bearer
from tanhui_accounts import cli_accreditations
from tanhui_accounts.domain.accreditation import city_today
from tanhui_shared.settings import REPO_ROOT

TODAY = city_today()


def run(accounts, capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    cli_accreditations.add_commands(parser.add_subparsers(dest="command", required=True))
    code = cli_accreditations.run_command(parser.parse_args(argv), accounts.url)
    out, err = capsys.readouterr()
    return code, out, err


def printed(out: str, label: str) -> str:
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(label))


def test_grant_list_rotate_and_revoke_from_the_command_line(accounts, capsys):
    name = f"metro-{uuid.uuid4().hex[:8]}"
    code, out, _ = run(accounts, capsys, "grant-accreditation", name, "--role", "transit_operator",
                       "--organisation", "南充轨道交通", "--number", "LIC-7",
                       "--valid-from", str(TODAY), "--valid-to", str(TODAY + timedelta(days=90)),
                       "--mode", "metro")
    assert code == 0, out
    grant_id = out.split("accreditation ", 1)[1].split(",", 1)[0]
    secret = printed(out, "client_secret (shown once)")
    assert accounts.client_token(name, secret).status_code == 200
    code, out, _ = run(accounts, capsys, "rotate-client-secret", grant_id, "--overlap-s", "0")
    rotated = printed(out, "client_secret (shown once)")
    assert code == 0 and accounts.client_token(name, rotated).status_code == 200
    assert accounts.client_token(name, secret).status_code == 401  # no overlap asked for
    code, out, err = run(accounts, capsys, "list-accreditations", "--status", "active")
    assert code == 0 and grant_id in out and "grants" in err
    assert [line.split("\t")[8] for line in out.splitlines() if grant_id in line] == ["active"]
    code, out, _ = run(accounts, capsys, "revoke-accreditation", grant_id, "--reason", "sold")
    assert code == 0 and accounts.client_token(name, rotated).status_code == 401
    code, _, err = run(accounts, capsys, "revoke-accreditation", grant_id, "--reason", "again")
    assert code == 1 and "already revoked" in err
    listed = accounts.http.get("/api/v1/accreditations", params={"status": "revoked",
                                                                 "limit": 200}).json()["items"]
    mine = [g for g in listed if g["id"] == grant_id]
    assert mine and mine[0]["revocation_reason"] == "sold"


def test_a_verifier_granted_from_the_command_line_gets_a_first_password(accounts, capsys):
    name = f"cqc-{uuid.uuid4().hex[:8]}"
    code, out, _ = run(accounts, capsys, "grant-accreditation", name, "--role", "verifier",
                       "--organisation", "方圆标志认证集团", "--number", "CNCA-V-12",
                       "--valid-from", str(TODAY), "--valid-to", str(TODAY))
    assert code == 0
    password = printed(out, "initial password (shown once)")
    token = accounts.http.post("/api/v1/auth/token", data={"username": name, "password": password})
    assert accounts.http.get("/api/v1/me", headers=bearer(token)).json()["role"] == "verifier"
    code, _, err = run(accounts, capsys, "grant-accreditation", f"bad-{uuid.uuid4().hex[:6]}",
                       "--role", "transit_operator", "--organisation", "x", "--number", "y",
                       "--valid-from", str(TODAY), "--valid-to", str(TODAY))
    assert code == 1 and "at least one travel mode" in err


def test_tanhui_ops_exposes_the_same_commands(accounts):
    name = f"bus-{uuid.uuid4().hex[:8]}"
    ops = [sys.executable, str(REPO_ROOT / "tools" / "tanhui_ops.py")]
    made = subprocess.run([*ops, "grant-accreditation", name, "--role", "transit_operator",
                           "--organisation", "南充公交集团", "--number", "LIC-9", "--mode", "bus",
                           "--valid-from", str(TODAY), "--valid-to", str(TODAY),
                           "--database-url", accounts.url],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert accounts.client_token(name, printed(made.stdout, "client_secret")).status_code == 200
    listed = subprocess.run([*ops, "list-accreditations", "--role", "transit_operator",
                             "--database-url", accounts.url],
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and name in listed.stdout
