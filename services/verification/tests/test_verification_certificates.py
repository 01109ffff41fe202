"""One forest-rights certificate, one active project, however it is spelled (real PostgreSQL):
the issue's seven variants are each a 409, parallel filings of variants file one, the database
refuses what the code might let through, and migration 0004 keys the projects it finds."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tanhui_shared.errors import Conflict
from tanhui_shared.testing.live_server import live_server, race
from tanhui_shared.uow import in_unit_of_work
from tanhui_verification.domain.certificates import certificate_key
from tanhui_verification.migrate import MIGRATIONS
from tanhui_verification.store.tables import Project
from verification_support import (CERTIFICATE, DEV, OTHER_DEV, REVIEWER, VARIANTS, filing,
                                  make_service)

PROBLEM = "application/problem+json"
RACERS = 20


def _taken(reply) -> None:
    assert reply.status_code == 409, reply.text
    assert reply.headers["content-type"] == PROBLEM
    assert reply.json()["field"] == "forest_rights_certificate", reply.json()


def test_the_seven_spellings_of_a_registered_certificate_are_each_409(svc):
    first = svc.registered(forest_rights_certificate=CERTIFICATE)
    for n, variant in enumerate(VARIANTS):
        _taken(svc.post("/api/v1/projects", OTHER_DEV,
                        filing(name=f"copy {n}", forest_rights_certificate=variant)))
    assert svc.count("project") == 1
    # kept as typed for display
    shown = svc.get(f"/api/v1/projects/{first['id']}").json()["forest_rights_certificate"]
    assert shown == CERTIFICATE
    other = svc.filed(OTHER_DEV, forest_rights_certificate="浙(2021)龙泉市林权证第0001235号")
    assert other["forest_rights_certificate"] == "浙(2021)龙泉市林权证第0001235号"


def test_a_rejected_project_frees_its_certificate_in_every_spelling(svc):
    first = svc.submitted(forest_rights_certificate=CERTIFICATE)
    reply = svc.post(f"/api/v1/projects/{first['id']}/reviews", REVIEWER,
                     {"decision": "reject", "comments": "the certificate is disputed"})
    assert reply.status_code == 201
    again = svc.filed(OTHER_DEV, forest_rights_certificate=VARIANTS[1])
    assert again["forest_rights_certificate"] == VARIANTS[1]


def test_a_certificate_with_no_visible_character_is_422(svc):
    reply = svc.post("/api/v1/projects", DEV, filing(forest_rights_certificate="\u200b\u3000\u2060"))
    assert reply.status_code == 422 and reply.json()["field"] == "forest_rights_certificate"
    assert svc.count("project") == 0


def test_the_database_refuses_a_variant_the_code_let_through(svc):
    svc.filed(forest_rights_certificate=CERTIFICATE)

    def file_unchecked(uow) -> None:  # a code path that forgot the friendly check
        body = filing(forest_rights_certificate=VARIANTS[2])
        del body["documents"]
        uow.session.add(Project(**body, forest_rights_certificate_key=certificate_key(VARIANTS[2]),
                                state="draft", developer_user_id="dev-2",
                                developer_username="x"))

    with pytest.raises(Conflict) as refused:
        in_unit_of_work(svc.engine, file_unchecked)
    assert refused.value.extensions["constraint"] == "ux_project_active_certificate"
    assert refused.value.status == 409 and refused.value.field == "forest_rights_certificate"
    with pytest.raises(sa.exc.IntegrityError) as empty, svc.engine.begin() as conn:
        conn.execute(sa.text("UPDATE project SET forest_rights_certificate_key = ''"))
    assert empty.value.orig.diag.constraint_name == "ck_project_certificate_key"
    assert svc.count("project") == 1


def _variant(n: int) -> str:
    """Twenty spellings of CERTIFICATE: the seven, then zero-width spaces at other places."""
    if n < len(VARIANTS):
        return VARIANTS[n]
    return CERTIFICATE[:n - len(VARIANTS)] + "\u200b" + CERTIFICATE[n - len(VARIANTS):]


def test_parallel_filings_of_variants_of_one_certificate_file_one(svc):
    assert len({_variant(n) for n in range(RACERS)}) == RACERS
    assert len({certificate_key(_variant(n)) for n in range(RACERS)}) == 1

    def developer(n: int):
        headers = svc.signing_key.headers(f"dev-race-{n}", "project_developer", f"d{n}")
        body = filing(name=f"race {n}", forest_rights_certificate=_variant(n))
        return lambda client: client.post("/api/v1/projects", json=body, headers=headers)

    with live_server(svc.client.app) as base_url:
        replies = race([developer(n) for n in range(RACERS)], base_url)
    assert sorted(r.status_code for r in replies) == [201] + [409] * (RACERS - 1), \
        [r.text for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            _taken(reply)
    assert svc.count("project") == 1 and svc.count("project_timeline") == 1


INSERT_PROJECT = """
    INSERT INTO project (id, name, kind, county, area_ha, forest_rights_holder,
                         forest_rights_certificate, crediting_start, crediting_years, description,
                         state, developer_user_id, developer_username, created_at)
    VALUES (:id, 'p', 'afforestation', 'Longquan', 10, 'co-op', :certificate, '2021-01-01', 30,
            '', :state, 'dev-1', 'lin', now() + make_interval(secs => :order))"""
LEGACY_REJECTION = """
    INSERT INTO project_timeline (project_id, step, from_state, to_state, actor_user_id,
                                  actor_username, actor_role, comments, occurred_at)
    VALUES ('p3', 'rejected', 'submitted', 'rejected', 'ver-1', 'zhao', 'verifier', '', now())"""


def test_migration_0004_keys_the_projects_it_finds(new_database, signing_key):
    url = new_database("verification_0003")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "0003")
    engine = sa.create_engine(url)
    legacy = [("p1", CERTIFICATE, "submitted"), ("p2", VARIANTS[1], "draft"),  # the issue's
              ("p3", VARIANTS[3], "rejected"), ("p4", "ZJ-LQ-2021-000123", "draft"),
              ("p5", "\u200b", "draft")]
    with engine.begin() as conn:
        for order, (project_id, certificate, state) in enumerate(legacy):
            conn.execute(sa.text(INSERT_PROJECT), {"id": project_id, "certificate": certificate,
                                                   "state": state, "order": order})
        conn.execute(sa.text(LEGACY_REJECTION))  # a verifier's decision from before accreditation
    command.upgrade(config, "head")

    with engine.connect() as conn:
        keys = dict(conn.execute(sa.text(
            "SELECT id, forest_rights_certificate_key FROM project")).all())
        checks = dict(conn.execute(sa.text(
            "SELECT conname, convalidated FROM pg_constraint WHERE conname IN "
            "('ck_project_timeline_accreditation', 'ck_verification_accreditation')")).all())
    key = certificate_key(CERTIFICATE)
    assert keys == {"p1": key, "p2": f"{key} (duplicate of project p1) project p2", "p3": key,
                    "p4": "zj-lq-2021-000123", "p5": "(no visible characters) project p5"}
    # the old decision stays; the check holds for new rows only where old ones break it
    assert checks == {"ck_project_timeline_accreditation": False,
                      "ck_verification_accreditation": True}
    with pytest.raises(sa.exc.IntegrityError) as refused, engine.begin() as conn:
        conn.execute(sa.text(LEGACY_REJECTION.replace("'p3'", "'p4'")))
    assert refused.value.orig.diag.constraint_name == "ck_project_timeline_accreditation"
    engine.dispose()

    service = make_service(url, signing_key)
    _taken(service.post("/api/v1/projects", OTHER_DEV,
                        filing(forest_rights_certificate=VARIANTS[5])))
    _taken(service.post("/api/v1/projects", OTHER_DEV,
                        filing(forest_rights_certificate="zj - lq - 2021 - 000123")))
    service.engine.dispose()
