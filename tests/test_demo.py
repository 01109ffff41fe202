"""`make demo` (tools/demo.py) seeds the running platform through its public API and says where
to look; the regulator it makes with the operator CLI can read the city's figures."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

from tanhui_shared.settings import REPO_ROOT

pytestmark = pytest.mark.infra


def test_the_demo_seeds_a_nanchong_scenario_and_prints_where_to_look(platform):
    env = {**os.environ, "TANHUI_ACCOUNTS_DATABASE_URL": platform.database_urls["accounts"]}
    run = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "demo.py"), platform.gateway_url,
                          "--trips", "500", "--citizens", "4"],
                         env=env, text=True, capture_output=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "100%" in run.stderr  # the progress bar ran to the end
    assert f"{platform.gateway_url}/console/" in run.stdout
    regulator = re.search(r"regulator\s+(regulator-\w+)", run.stdout).group(1)
    certificate = re.search(r"#/verify/([0-9a-f-]{36})", run.stdout).group(1)
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as gw:
        token = gw.post("/api/v1/auth/token", data={"username": regulator,
                                                    "password": "tanhui-demo-2025"}).json()["access_token"]
        year = str(int(re.search(r"report (\d{4}) of", run.stderr).group(1)))
        stats = gw.get("/api/v1/stats/city", params={"period": year},
                       headers={"Authorization": f"Bearer {token}"}).json()
        assert {g["key"] for g in stats["by_county"]} >= {"高坪区", "顺庆区", "阆中市", "南部县"}
        offset = gw.get(f"/api/v1/certificates/{certificate}").json()
        assert offset["event_id"] and offset["quantity"] > 100
    accepted = int(re.search(r"(\d+) trips accepted", run.stdout).group(1))
    assert 250 <= accepted <= 500  # some overlap another trip of the same citizen and are refused
