"""Integrity under concurrency, through the gateway (issue 11): 20 parallel requests on every money
path and every duplicate (tools/races.py), each row within what the path allows, no 5xx, the
state read back agreeing with the answers, and the registry's audit and balances consistent."""
from __future__ import annotations

import sys

import pytest

from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import races  # noqa: E402

PATHS = 10


@pytest.mark.infra
@pytest.mark.timeout(360)  # ~60 s on an idle 2-core machine; far more when it is shared
def test_parallel_requests_get_no_more_through_than_each_path_allows(platform, monkeypatch):
    # the administrator who accredits the race's verifiers is made on this platform's database
    monkeypatch.setenv("TANHUI_ACCOUNTS_DATABASE_URL", platform.database_urls["accounts"])
    outcome = races.run_races(platform.gateway_url, parallel=20)
    text = races.report(outcome)
    print(text)  # the table, for `pytest -s` and for the failure report
    assert len(outcome.rows) == PATHS
    for row in outcome.rows:
        assert row.requests == 20, text
        assert row.succeeded <= row.allowed, f"{row.path}: {row.succeeded} > {row.allowed}\n{text}"
        assert row.server_errors == 0, f"{row.path}: 5xx or transport errors\n{text}"
        assert not row.problems, f"{row.path}: {row.problems}\n{text}"
        # Not vacuous: where something may succeed, the race did reach the path.
        assert row.succeeded >= min(1, row.allowed), f"{row.path}: nothing succeeded\n{text}"
    # The redeeming citizen earned one redemption's points through trips within the daily caps.
    assert next(r for r in outcome.rows if r.path.startswith("redeem")).allowed == 1, text
    assert outcome.registry.ok, text
    assert outcome.ok, text


def test_the_table_names_each_outcome():
    row = races.Row("transfer", 3, allowed=1)
    row.tally([races.Shot(201, {}), races.Shot(409, {}), races.Shot(None, error="ReadTimeout")],
              lambda s: s.status == 201)
    assert row.succeeded == 1 and row.server_errors == 1
    assert dict(row.others) == {409: 1, "ReadTimeout": 1}
    assert not row.ok and row.verdict.startswith("FAIL")
    line = races.table([row]).splitlines()[-1]
    assert [cell.strip() for cell in line.split(" | ")] == [
        "transfer", "3", "1", "1", '{"409": 1, "ReadTimeout": 1}', row.verdict]
