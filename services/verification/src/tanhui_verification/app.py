"""verification: forestry carbon-sink projects, their review, monitoring and verification."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app
from tanhui_shared.web.trusted_keys import TrustedKeyCache

from .settings import VerificationSettings, get_settings


def create_app(settings: VerificationSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        [],
        key_lookup=TrustedKeyCache,
        description="Forestry carbon-sink projects: filing, design review, monitoring, verification.",
    )
