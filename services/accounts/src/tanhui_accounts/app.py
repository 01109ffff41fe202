"""accounts: identities and token issuer, enterprise and personal carbon accounts."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app
from tanhui_shared.uow import in_unit_of_work

from .api import auth, citizens, enterprises, jwks, stats
from .security import load_previous_keys, load_signing_key
from .settings import AccountsSettings, get_settings
from .usecases.identity import publish_signing_keys


def create_app(settings: AccountsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    key = load_signing_key(settings)
    # Tokens are signed with `key`; tokens of the previous keys stay valid until they expire.
    published = {k.kid: k.public_jwk() for k in [key, *load_previous_keys(settings)]}
    app = create_service_app(
        settings,
        [auth.router, jwks.router, enterprises.router, citizens.router, stats.router],
        key_lookup=lambda _engine: published.get,
        description="Identities and token issuer, enterprise and personal carbon accounts.",
    )
    app.state.signing_key = key
    app.state.published_keys = list(published.values())
    # Announced over Kafka once, so the other services can verify our tokens without calling us.
    in_unit_of_work(app.state.engine, lambda uow: publish_signing_keys(uow, list(published.values())))
    return app
