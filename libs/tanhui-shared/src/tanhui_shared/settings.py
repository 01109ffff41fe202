"""Settings shared by every service process, read from `TANHUI_*` environment variables."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_VAR_DIR = REPO_ROOT / ".var"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANHUI_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = DEFAULT_VAR_DIR
    # Empty means the embedded default: a SQLite file under var_dir (development only).
    database_url: str = ""
    kafka_bootstrap: str = "127.0.0.1:19092"
    # Prefix for every topic name; empty in production. Tests give each run its own.
    topic_namespace: str = ""
    log_level: str = "INFO"
    # JWT audience and issuer shared by the token issuer (accounts) and every verifier.
    jwt_issuer: str = "tanhui-accounts"
    jwt_audience: str = "tanhui"

    relay_batch_size: int = 500
    relay_idle_poll_s: float = 0.05
    consumer_max_attempts: int = 3
    consumer_backoff_s: float = 0.2
    consumer_session_timeout_ms: int = 10_000
    # Static group membership: give each consumer process a stable id (e.g. its pod name) and a
    # restart reclaims its partitions without waiting for the session to time out.
    consumer_instance_id: str | None = None

    service_name: str = "service"

    @model_validator(mode="after")
    def _production_needs_real_infrastructure(self) -> "ServiceSettings":
        if self.env != "development" and not self.database_url:
            raise ValueError(
                "TANHUI_DATABASE_URL must be set outside development "
                "(the SQLite default is only for `make up` on a laptop)"
            )
        return self

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / (self.service_name + '.db')}"
