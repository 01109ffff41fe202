"""Users and the token-signing keys announced to the other services."""
from __future__ import annotations

from typing import Any

from tanhui_shared.contracts import SigningKeyPublished, SigningKeyRetired, UserRegistered
from tanhui_shared.errors import Conflict, NotFound
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.errors import UsernameTaken
from ..domain.identity import Role, subject_kind
from ..store.tables import PublishedSigningKey, User
from ..store.users import add_user, find_user, note_published_key


def register_user(uow: UnitOfWork, username: str, password_hash: str, role: Role) -> User:
    """A new user (with a personal carbon account for a citizen), announced by `UserRegistered`
    so credits opens its holding account. A name taken meanwhile fails on its unique key."""
    if find_user(uow.session, username) is not None:
        raise UsernameTaken(username)
    user = add_user(uow.session, username, password_hash, role)
    uow.emit(UserRegistered(user_id=user.id, username=username, role=role.value,
                            subject_kind=subject_kind(role)))
    return user


def publish_signing_keys(uow: UnitOfWork, jwks: list[dict[str, Any]]) -> list[str]:
    """Announce each key not announced yet, once however many instances start at the same time;
    returns the kids announced now."""
    announced = []
    for jwk in jwks:
        if note_published_key(uow.session, jwk["kid"]):
            uow.emit(SigningKeyPublished(kid=jwk["kid"], jwk=jwk))
            announced.append(jwk["kid"])
    return announced


def retire_signing_key(uow: UnitOfWork, kid: str, current_kid: str) -> PublishedSigningKey:
    """accounts stops publishing `kid` in its JWKS and honouring it, and announces
    `SigningKeyRetired` so every service stops trusting tokens it signed. Retiring a key twice
    announces it once. The key accounts signs with now cannot be retired: rotate first."""
    if kid == current_kid:
        raise Conflict("this is the key accounts signs tokens with now: rotate to a new key "
                       "(TANHUI_JWT_PRIVATE_KEY_FILE), restart accounts, then retire this one",
                       field="kid", code="signing-key-in-use")
    key = uow.session.get(PublishedSigningKey, kid, with_for_update=True)
    if key is None:
        raise NotFound(f"no signing key with kid {kid!r} was ever published", field="kid",
                       code="signing-key-not-found")
    if key.retired_at is None:
        key.retired_at = utcnow()
        uow.session.add(key)
        uow.emit(SigningKeyRetired(kid=kid, retired_at=key.retired_at))
    return key
