"""Versioned event payloads. A new version is a new class with a new `TYPE`; old ones stay."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .topics import ACCOUNTS_TOPIC


class EventContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    SOURCE: ClassVar[str]

    def aggregate_id(self) -> str:
        """Kafka key and CloudEvents subject: one aggregate's events stay in order."""
        raise NotImplementedError


# --- accounts ---------------------------------------------------------------------------------

class UserRegistered(EventContract):
    TYPE: ClassVar[str] = "cn.tanhui.accounts.user_registered.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    user_id: str
    username: str
    role: str
    # person (citizen) or organisation (everyone acting for a company, project or event)
    subject_kind: str

    def aggregate_id(self) -> str:
        return self.user_id


class SigningKeyPublished(EventContract):
    """accounts' public token-signing key, so services can verify tokens without calling it."""

    TYPE: ClassVar[str] = "cn.tanhui.accounts.signing_key_published.v1"
    TOPIC: ClassVar[str] = ACCOUNTS_TOPIC
    SOURCE: ClassVar[str] = "/services/accounts"

    kid: str
    jwk: dict[str, Any]

    def aggregate_id(self) -> str:
        return f"signing-key:{self.kid}"


CONTRACTS: dict[str, type[EventContract]] = {
    c.TYPE: c for c in (UserRegistered, SigningKeyPublished)
}

