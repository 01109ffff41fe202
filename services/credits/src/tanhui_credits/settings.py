from __future__ import annotations

from functools import lru_cache

from tanhui_shared.settings import ServiceSettings


class CreditsSettings(ServiceSettings):
    service_name: str = "credits"


@lru_cache
def get_settings() -> CreditsSettings:
    return CreditsSettings()
