"""credits: the sink-credit registry (holding accounts now; issuance, transfers, offsets later)."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app
from tanhui_shared.web.trusted_keys import TrustedKeyCache

from .api import holdings
from .settings import CreditsSettings, get_settings


def create_app(settings: CreditsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        [holdings.router],
        key_lookup=TrustedKeyCache,
        description="The credit registry: holdings, issuance, transfers, offsets, retirements.",
    )
