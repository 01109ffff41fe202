from __future__ import annotations

from functools import lru_cache

from tanhui_shared.settings import ServiceSettings


class VerificationSettings(ServiceSettings):
    service_name: str = "verification"


@lru_cache
def get_settings() -> VerificationSettings:
    return VerificationSettings()
