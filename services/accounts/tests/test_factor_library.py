"""The factor library in accounts (issue 13): a report takes, for each line, the version valid for
its period; every version is listed; the schema keeps live versions of a code from overlapping."""
from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tanhui_accounts.domain.uscc import ALPHABET, check_character
from tanhui_accounts.usecases.enterprises import publish_factor
from tanhui_shared.methodology import EmissionFactor
from tanhui_shared.uow import in_unit_of_work


def _firm(accounts, headers) -> dict:  # noqa: ANN001
    body = "913213" + "".join(random.choice("0123456789") for _ in range(3)) + \
        "".join(random.choice(ALPHABET) for _ in range(8))
    reply = accounts.http.post("/api/v1/enterprises", headers=headers, json={
        "name": f"南充热电 {uuid.uuid4().hex[:6]}", "uscc": body + check_character(body),
        "county": "顺庆区", "industry": "power"})
    assert reply.status_code == 201, reply.text
    return reply.json()


def _grid(code: str, version: str, kg: str, start: date, end: date | None) -> EmissionFactor:
    return EmissionFactor(code, f"Test city grid {version}", "energy", 2, "kWh",
                          Decimal(kg) / 1000, "a test notice", version, start, end)


def _report(accounts, headers, firm, period: str, lines: list[dict]):  # noqa: ANN001
    return accounts.http.post(f"/api/v1/enterprises/{firm['id']}/reports", headers=headers,
                              json={"period": period, "activities": lines})


def test_each_line_takes_the_version_valid_for_the_report_period(accounts):
    code = f"grid.test{uuid.uuid4().hex[:6]}"
    # the second version closes the first the day before it starts (2024-06-30)
    for factor in (_grid(code, "2023", "0.6000", date(2023, 1, 1), None),
                   _grid(code, "2024H2", "0.5000", date(2024, 7, 1), None)):
        in_unit_of_work(accounts.engine, lambda uow, f=factor: publish_factor(uow, f))
    with pytest.raises(Exception) as cut:  # a version inside the first would cut it in two
        in_unit_of_work(accounts.engine, lambda uow: publish_factor(
            uow, _grid(code, "mid", "0.55", date(2023, 3, 1), date(2023, 3, 31))))
    assert getattr(cut.value, "field", None) == "valid_to"
    _, headers = accounts.user("enterprise")
    firm = _firm(accounts, headers)
    line = [{"factor_code": "fuel.diesel", "quantity": "1", "unit": "t"},
            {"factor_code": code, "quantity": "1000", "unit": "kWh"}]
    early = _report(accounts, headers, firm, "2024-Q2", line)
    late = _report(accounts, headers, firm, "2024-Q3", line)
    assert early.status_code == 201 and late.status_code == 201, (early.text, late.text)
    # 1 000 kWh x 0.6 kg = 0.6 t with the version valid in Q2, x 0.5 kg = 0.5 t in Q3
    assert [(l["factor_version"], l["tco2e"]) for l in early.json()["lines"]][1] == \
        ("2023", "0.6000")
    assert [(l["factor_version"], l["tco2e"]) for l in late.json()["lines"]][1] == \
        ("2024H2", "0.5000")
    # a year straddling both versions, or one before either, is refused, naming the line
    for period in ("2024", "2022"):
        refused = _report(accounts, headers, firm, period, line)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "activities[1].factor_code"
        assert f"no version of {code}" in refused.json()["detail"]
    listed = accounts.http.get(f"/api/v1/factors?code={code}").json()
    assert [(v["version"], v["valid_to"]) for v in listed] == [("2023", "2024-06-30"),
                                                               ("2024H2", None)]
    on_day = accounts.http.get(f"/api/v1/factors?code={code}&valid_on=2024-07-01").json()
    assert [v["version"] for v in on_day] == ["2024H2"]


def test_purchased_heat_is_a_scope_2_line_in_gj(accounts):
    _, headers = accounts.user("enterprise")
    firm = _firm(accounts, headers)
    # 150 GJ x 0.11 tCO2/GJ = 16.5 t; 50 000 MJ = 50 GJ x 0.11 = 5.5 t
    reply = _report(accounts, headers, firm, "2025", [
        {"factor_code": "heat.purchased", "quantity": "150", "unit": "GJ"},
        {"factor_code": "heat.purchased", "quantity": "50000", "unit": "MJ"}])
    assert reply.status_code == 201, reply.text
    assert (Decimal(reply.json()["scope1_tco2e"]), reply.json()["scope2_tco2e"]) == (0, "22.0000")
    wrong = _report(accounts, headers, firm, "2024", [
        {"factor_code": "heat.purchased", "quantity": "150", "unit": "kWh"}])
    assert wrong.status_code == 422 and wrong.json()["field"] == "activities[0].unit"
    heat = accounts.http.get("/api/v1/factors?code=heat.purchased").json()
    assert [(h["value"], h["unit"], h["category"]) for h in heat] == [
        ("0.110000000000", "tCO2e/GJ", "energy")]


def _refused_by(engine, sql: str, **params) -> str:  # noqa: ANN001
    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    return refused.value.orig.diag.constraint_name


INSERT = ("INSERT INTO emission_factor (code, version, name, category, scope, activity_unit, "
          "value, source, valid_from, valid_to, published_at) VALUES ('heat.purchased', :v, "
          "'x', 'energy', 2, 'GJ', 0.2, 'by hand', :start, :end, now())")


def test_the_schema_refuses_overlapping_live_versions_and_backwards_validity(accounts):
    assert _refused_by(accounts.engine, INSERT, v="forged", start=date(2026, 1, 1),
                       end=None) == "ex_emission_factor_one_live_version"
    assert _refused_by(accounts.engine, INSERT, v="backwards", start=date(2026, 1, 1),
                       end=date(2025, 1, 1)) == "ck_emission_factor_validity"
    # the application's path says the same as a 409 problem naming the field
    with pytest.raises(Exception) as refused:
        in_unit_of_work(accounts.engine, lambda uow: publish_factor(uow, EmissionFactor(
            "travel.bus", "bus", "travel", 3, "person-km", Decimal("0.0001"), "x", "v",
            date(2024, 1, 1))))
    assert getattr(refused.value, "field", None) == "scope"
