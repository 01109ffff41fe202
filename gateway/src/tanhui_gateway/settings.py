from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANHUI_", extra="ignore")

    log_level: str = "INFO"
    accounts_url: str = "http://127.0.0.1:8101"
    verification_url: str = "http://127.0.0.1:8102"
    credits_url: str = "http://127.0.0.1:8103"
    upstream_timeout_s: float = 30.0
    upstream_connect_timeout_s: float = 3.0

    def service_urls(self) -> dict[str, str]:
        return {
            "accounts": self.accounts_url,
            "verification": self.verification_url,
            "credits": self.credits_url,
        }


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
