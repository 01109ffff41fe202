"""What the schema itself refuses about grants and client secrets, past every check of the
application (raw SQL), and a race of renewals that only the exclusion constraint can stop."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tanhui_accounts.domain.accreditation import city_today
from tanhui_shared.testing.live_server import live_server, race
from test_accounts_constraints import refused_by

TODAY = city_today()
GRANT = ("INSERT INTO accreditation (id, user_id, role, organisation, number, valid_from, "
         "valid_to, modes, granted_by, granted_at, revoked_at, revoked_by, revocation_reason) "
         "VALUES (:id, :u, :role, 'org', 'n-1', :f, :t, CAST(:modes AS varchar[]), 'test', now(), "
         ":ra, :rb, :rr)")


def row(user_id: str, **change) -> dict:
    return {"id": str(uuid.uuid4()), "u": user_id, "role": "transit_operator", "f": TODAY,
            "t": TODAY + timedelta(days=30), "modes": ["bus"], "ra": None, "rb": None,
            "rr": None, **change}


@pytest.fixture
def operator(accounts) -> dict:
    user, _ = accounts.user("transit_operator")
    return user


def test_a_grant_has_a_known_role_ordered_dates_and_the_modes_its_role_needs(accounts, operator):
    engine, me = accounts.engine, operator["id"]
    assert refused_by(engine, GRANT, **row(me, role="citizen", modes=[])) == "ck_accreditation_role"
    assert refused_by(engine, GRANT, **row(me, t=TODAY - timedelta(days=1))) == \
        "ck_accreditation_dates"
    assert refused_by(engine, GRANT, **row(me, modes=[])) == "ck_accreditation_modes"
    assert refused_by(engine, GRANT, **row(me, role="verifier")) == "ck_accreditation_modes"
    assert refused_by(engine, GRANT, **row(me, modes=["bus", "plane"])) == \
        "ck_accreditation_modes_known"
    assert refused_by(engine, GRANT, **row("no-such-user")) == "fk_accreditation_user"


def test_a_revocation_records_when_by_whom_and_why(accounts, operator):
    engine, me = accounts.engine, operator["id"]
    past = {"f": TODAY - timedelta(days=400), "t": TODAY - timedelta(days=300)}
    for partial in ({"ra": TODAY}, {"rb": "admin"}, {"rr": "why"}, {"ra": TODAY, "rb": "admin"}):
        assert refused_by(engine, GRANT, **row(me, **past, **partial)) == \
            "ck_accreditation_revocation"


def test_two_unrevoked_grants_of_one_user_never_share_a_day(accounts, operator):
    engine, me = accounts.engine, operator["id"]
    assert operator["grant"]["valid_to"] == str(TODAY + timedelta(days=365))
    # the live grant's last day is this one's first
    assert refused_by(engine, GRANT, **row(me, f=TODAY + timedelta(days=365),
                                           t=TODAY + timedelta(days=400))) == \
        "ex_accreditation_one_live_grant"
    with engine.begin() as conn:  # a revoked grant, or one starting after the live one, is fine
        conn.execute(sa.text(GRANT), row(me, ra=TODAY, rb="admin", rr="superseded"))
        conn.execute(sa.text(GRANT), row(me, f=TODAY + timedelta(days=366),
                                         t=TODAY + timedelta(days=400)))


def test_a_replaced_secret_always_has_its_deadline(accounts, operator):
    engine = accounts.engine
    rotate = "UPDATE oauth_client SET previous_secret_hash = 'x', previous_valid_until = {} " \
             "WHERE user_id = :u"
    assert refused_by(engine, rotate.format("NULL"), u=operator["id"]) == \
        "ck_oauth_client_previous_secret"
    second = ("INSERT INTO oauth_client (client_id, user_id, secret_hash, created_at) "
              "VALUES (:c, :u, 'x', now())")
    assert refused_by(engine, second, c=f"other-{uuid.uuid4().hex[:6]}", u=operator["id"]) == \
        "uq_oauth_client_user"


def test_20_renewals_of_one_grant_at_once_grant_it_once(accounts):
    first = accounts.grant("transit_operator")
    body = {"role": "transit_operator", "username": first["username"], "organisation": "南充公交集团",
            "number": "LIC-2", "valid_from": str(TODAY + timedelta(days=400)),
            "valid_to": str(TODAY + timedelta(days=800)), "modes": ["bus"]}
    with live_server(accounts.app) as server:
        replies = race([lambda client: client.post("/api/v1/accreditations", json=body,
                                                   headers=accounts.admin)] * 20, server)
    assert Counter(r.status_code for r in replies) == {201: 1, 409: 19}, [r.text for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            assert reply.json()["field"] == "valid_from", reply.text
    listed = accounts.http.get("/api/v1/accreditations", params={"limit": 200}).json()["items"]
    assert sum(g["username"] == first["username"] for g in listed) == 2
