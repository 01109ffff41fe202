"""Text PostgreSQL cannot store is refused at the edge with a 422 naming the field."""
from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.problems import install_problem_handlers
from tanhui_shared.web.storable_params import refuse_unstorable_params


class Note(ApiModel):
    text: str
    tags: list[str] = []
    ref: str | None = None


def _client() -> TestClient:
    app = FastAPI(dependencies=[Depends(refuse_unstorable_params)])
    install_problem_handlers(app)

    @app.post("/notes/{note_id}")
    def post(note_id: str, note: Note, county: str | None = None) -> dict:
        return {"id": note_id, "text": note.text, "county": county}

    return TestClient(app)


def test_lone_surrogates_and_nul_in_bodies_name_the_field() -> None:
    client = _client()
    cases = [('{"text": "\\ud800"}', "text"), ('{"text": "a", "ref": "\\udfff"}', "ref"),
             ('{"text": "a", "tags": ["ok", "b\\u0000"]}', "tags"), ('{"text": "a\\u0000"}', "text")]
    for body, field in cases:
        reply = client.post("/notes/n1", content=body, headers={"content-type": "application/json"})
        assert reply.status_code == 422, body
        assert reply.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in reply.json()["errors"]] == [field]


def test_nul_in_path_or_query_names_the_parameter() -> None:
    client = _client()
    ok = client.post("/notes/n1?county=Shunqing", json={"text": "fine 好"})
    assert ok.status_code == 200 and ok.json()["county"] == "Shunqing"
    for url, field in [("/notes/n%001", "note_id"), ("/notes/n1?county=a%00", "county")]:
        reply = client.post(url, json={"text": "a"})
        assert reply.status_code == 422
        assert reply.json()["errors"][0]["field"] == field
        # typed like any validation error: the Problem schema requires `kind` (OpenAPI, console)
        assert (reply.json()["code"], reply.json()["errors"][0]["kind"]) == ("nul-character",
                                                                              "value_error")


def test_an_unprintable_idempotency_key_is_a_422() -> None:
    from tanhui_shared.web.idempotency import IdempotentRequest
    from tanhui_shared.web.problems import Problem

    for key in ("a\x00b", "tab\there"):
        try:
            IdempotentRequest(key, "POST", "/x", b"{}")
        except Problem as refused:
            assert refused.status == 422 and refused.extensions["field"] == "Idempotency-Key"
        else:
            raise AssertionError(f"{key!r} was accepted")
    assert IdempotentRequest("order-42", "POST", "/x", b"{}").key == "order-42"


def test_a_statement_past_a_postgresql_limit_is_a_500_not_database_unavailable(infra) -> None:
    """10,000 pairs in a row IN list pass max_stack_depth (SQLSTATE 54001, an OperationalError
    to SQLAlchemy): the whole-year disclosures did this. A retry fails alike, so it is our
    fault (500), not the 503 'database unavailable' with a Retry-After; the database still answers."""
    import sqlalchemy as sa

    from tanhui_shared.db import make_engine

    engine = make_engine(infra.database_url, pool_size=1)
    app = FastAPI()
    install_problem_handlers(app)
    pairs = ",".join(f"({n}, {n})" for n in range(10_000))

    @app.get("/deep")
    def deep() -> list:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(f"SELECT 1 WHERE (1, 2) IN ({pairs})")).scalars())

    @app.get("/shallow")
    def shallow() -> list:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT 1 WHERE (1, 1) IN ((0, 0), (1, 1))")).scalars())

    client = TestClient(app, raise_server_exceptions=False)
    reply = client.get("/deep")
    assert reply.status_code == 500, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert "Retry-After" not in reply.headers and reply.json().get("code") != "database-unavailable"
    assert client.get("/shallow").json() == [1]
    engine.dispose()
