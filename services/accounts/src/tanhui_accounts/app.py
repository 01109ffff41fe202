"""accounts: identities and token issuer, enterprise and personal carbon accounts."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app

from .api import auth, citizens, enterprises, jwks, stats
from .events.signing_keys import announce_signing_key
from .security import load_previous_keys, load_signing_key
from .settings import AccountsSettings, get_settings


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
    for jwk in published.values():
        announce_signing_key(app.state.engine, jwk)
    return app
