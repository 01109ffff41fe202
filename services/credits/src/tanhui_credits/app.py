"""credits: the sink-credit registry: holdings, issuance, transfers, retirements, certificates,
the public registry and its audit chain, large events, listings and offsets."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app
from tanhui_shared.web.trusted_keys import TrustedKeyCache

from .api import events, holdings, listings, registry, retirements
from .settings import CreditsSettings, get_settings


def create_app(settings: CreditsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        [holdings.router, retirements.router, registry.router, events.router,
         listings.router],
        key_lookup=TrustedKeyCache,
        description="The credit registry: holdings, issuance, transfers, offsets, retirements.",
    )
