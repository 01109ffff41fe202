"""accounts: identities and the token issuer (later: enterprises, reports, personal accounts)."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app

from .api import auth, jwks
from .events.signing_keys import announce_signing_key
from .security import load_signing_key
from .settings import AccountsSettings, get_settings


def create_app(settings: AccountsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    key = load_signing_key(settings)
    app = create_service_app(
        settings,
        [auth.router, jwks.router],
        key_lookup=lambda _engine: lambda kid: key.public_jwk() if kid == key.kid else None,
        description="Identities and token issuer, enterprise and personal carbon accounts.",
    )
    app.state.signing_key = key
    announce_signing_key(app.state.engine, key)
    return app
