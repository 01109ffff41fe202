"""verification: forestry carbon-sink projects, their review, monitoring and verification."""
from __future__ import annotations

from fastapi import FastAPI

from tanhui_shared.service import create_service_app
from tanhui_shared.web.trusted_keys import TrustedKeyCache

from .api import decisions, losses, monitoring, projects
from .settings import VerificationSettings, get_settings


def create_app(settings: VerificationSettings | None = None) -> FastAPI:
    # Domain errors and constraint violations become problem+json in tanhui_shared's one mapping.
    return create_service_app(
        settings or get_settings(),
        [projects.router, monitoring.router, losses.router, decisions.router],
        key_lookup=TrustedKeyCache,
        description="Forestry carbon-sink projects: filing, design review, monitoring, "
                    "verification, loss events.",
    )
