from fastapi.testclient import TestClient

from tanhui_credits.app import create_app
from tanhui_credits.settings import CreditsSettings


def test_holdings_need_an_open_account(migrated_database, signing_key):
    app = create_app(CreditsSettings(env="test", database_url=migrated_database("credits")))
    signing_key.trust_in(app.state.engine)
    client = TestClient(app)
    reply = client.get("/api/v1/holdings", headers=signing_key.headers("u-1", "citizen"))
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/holdings").status_code == 401
