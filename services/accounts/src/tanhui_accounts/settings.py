from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from typing import Literal

from pydantic import Field, model_validator

from tanhui_shared.settings import ServiceSettings


class AccountsSettings(ServiceSettings):
    service_name: str = "accounts"
    # RS256 signing key (PEM). Outside development it must be given; in development one is made
    # once under var_dir and reused, so tokens survive a restart of `make up`.
    jwt_private_key_pem: str = ""
    jwt_private_key_file: Path | None = None
    # Key rotation without downtime: after switching to a new signing key, list the previous
    # key files here until every token it signed has expired (access_token_ttl_s); the JWKS and
    # every service keep accepting them meanwhile.
    jwt_previous_key_files: list[Path] = []
    access_token_ttl_s: int = 900
    # Transit operators' client-credentials tokens (RFC 6749 §4.4). Platform assumptions: a
    # machine asks for a new token whenever it needs one, so a revocation or a retired secret
    # stops it within 5 minutes; a replaced client secret keeps working for an hour, the time
    # to deploy the new one across an operator's feeders.
    client_token_ttl_s: int = Field(default=300, ge=30, le=3600)
    # How old a trip may be when claimed (domain/travel.py ClaimWindow: 7 days, after Beijing's
    # MaaS scheme); a platform may choose another window, e.g. to replay a season of feeds.
    trip_claim_window_days: int = Field(default=7, ge=1, le=366)
    client_secret_overlap_s: int = Field(default=3600, ge=0, le=7 * 24 * 3600)
    # Test-support setting: "test" hashes passwords at argon2's minimum cost, so a test platform's
    # hundreds of registrations and logins do not each pay the production cost (over a second
    # each on a loaded CI machine); refused in any environment but test.
    password_hash_cost: Literal["production", "test"] = "production"

    @model_validator(mode="after")
    def _signing_key_outside_development(self) -> "AccountsSettings":
        if self.env != "development" and not (self.jwt_private_key_pem or self.jwt_private_key_file):
            raise ValueError(
                "set TANHUI_JWT_PRIVATE_KEY_PEM or TANHUI_JWT_PRIVATE_KEY_FILE outside development "
                "(the generated development key is refused)"
            )
        if self.password_hash_cost != "production" and self.env != "test":
            raise ValueError("TANHUI_PASSWORD_HASH_COST=test is for test platforms only (TANHUI_ENV=test)")
        return self


@lru_cache
def get_settings() -> AccountsSettings:
    return AccountsSettings()
