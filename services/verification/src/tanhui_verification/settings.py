from __future__ import annotations

from functools import lru_cache

from tanhui_shared.settings import ServiceSettings


class VerificationSettings(ServiceSettings):
    service_name: str = "verification"
    # True: the verifier who approved a project's design may not verify its monitoring reports
    # (ISO 14064-3 style independence). The project's own developer is always refused.
    conflict_of_interest_strict: bool = True


@lru_cache
def get_settings() -> VerificationSettings:
    return VerificationSettings()
