from __future__ import annotations

from functools import lru_cache

from tanhui_shared.settings import ServiceSettings


class CreditsSettings(ServiceSettings):
    service_name: str = "credits"
    # Where certificates can be checked by anyone: the QR code on each certificate points here.
    public_base_url: str = "http://127.0.0.1:8000"


@lru_cache
def get_settings() -> CreditsSettings:
    return CreditsSettings()
