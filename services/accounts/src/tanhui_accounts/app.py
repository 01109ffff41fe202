"""accounts: identities and token issuer, enterprise and personal carbon accounts."""
from __future__ import annotations

import gc

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tanhui_shared.service import create_service_app
from tanhui_shared.uow import in_unit_of_work
from tanhui_shared.web.json_body import document_bodies
from tanhui_shared.web.trusted_keys import KeyCache

from .api import (accreditations, auth, citizens, claims, enterprises, journeys, jwks,
                  methodology, stats)
from .api.trip_lane import install_trip_lane
from .domain.travel import travel_rules
from .security import load_previous_keys, load_signing_key, use_password_hash_cost
from .settings import AccountsSettings, get_settings
from .store.users import retired_kids
from .usecases.identity import publish_signing_keys


def live_key_lookup(published: dict[str, dict], engine: Engine) -> KeyCache:
    """accounts verifies its own tokens against its keys, less those retired since (seen within
    the cache's few seconds, as in every other service)."""
    def load(kid: str) -> dict | None:
        if kid not in published:
            return None
        with Session(engine) as session:
            return None if retired_kids(session, [kid]) else published[kid]
    return KeyCache(load)


def create_app(settings: AccountsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    use_password_hash_cost(settings)
    key = load_signing_key(settings)
    # Tokens are signed with `key`; tokens of the previous keys stay valid until they expire.
    published = {k.kid: k.public_jwk() for k in [key, *load_previous_keys(settings)]}
    app = create_service_app(
        settings,
        [auth.router, jwks.router, enterprises.router, citizens.router, stats.router,
         accreditations.router, claims.router, methodology.router, journeys.router],
        key_lookup=lambda engine: live_key_lookup(published, engine),
        description="Identities and token issuer, enterprise and personal carbon accounts.",
    )
    document_bodies(app, citizens.TRIP_BATCH)
    install_trip_lane(app)  # POST /api/v1/trips past FastAPI's routing when it can be
    app.state.signing_key = key
    app.state.travel_rules = travel_rules(settings.trip_claim_window_days)
    app.state.published_keys = list(published.values())
    # Announced over Kafka once, so the other services can verify our tokens without calling us.
    in_unit_of_work(app.state.engine, lambda uow: publish_signing_keys(uow, list(published.values())))
    # What the process holds after start-up (modules, routes, models) lives as long as it does:
    # kept out of the collector's full passes, which a transit operator's 10,000-trip feed
    # (hundreds of thousands of new objects) triggers several times.
    gc.freeze()
    return app
