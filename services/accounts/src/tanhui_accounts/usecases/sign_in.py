"""Who gets a token: a user by password, a transit operator by its client credentials.

Reads only. A verifier or transit operator also needs a grant valid today; the refusal says why,
but only to a caller who proved the credentials (a wrong password learns nothing about grants).
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from tanhui_shared.web.models import is_storable

from ..client_secrets import secret_matches
from ..domain.accreditation import GRANTED_ROLES, city_today, why_not_valid
from ..domain.identity import Role
from ..security import password_matches
from ..store.accreditations import client, facts, grants_of
from ..store.tables import User
from ..store.users import find_user


class SignInRefused(Exception):
    """No token. `error` is the OAuth 2.0 error code (RFC 6749 §5.2) the answer carries."""

    def __init__(self, detail: str, error: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error


def _grant_problem(session: Session, user: User, now: datetime) -> str | None:
    if Role(user.role) not in GRANTED_ROLES:
        return None
    return why_not_valid([facts(g) for g in grants_of(session, user.id)], city_today(now))


def password_sign_in(session: Session, username: str, password: str, now: datetime) -> User:
    # A name PostgreSQL cannot hold is no user's: the same answer as any unknown name.
    user = find_user(session, username) if is_storable(username) else None
    if not password_matches(user.password_hash if user else None, password) or user is None:
        raise SignInRefused("wrong username or password", "invalid_grant")
    if user.role == Role.TRANSIT_OPERATOR.value:
        raise SignInRefused("transit operators sign in with their client credentials "
                            "(grant_type=client_credentials), not a password",
                            "unauthorized_client")
    if problem := _grant_problem(session, user, now):
        raise SignInRefused(problem, "invalid_grant")
    return user


def client_sign_in(session: Session, client_id: str, secret: str, now: datetime) -> User:
    """The operator whose current secret, or previous secret still in its overlap, is `secret`."""
    # text PostgreSQL cannot hold is no client's id, and no secret: the usual refusal
    found = client(session, client_id) if is_storable(client_id) and is_storable(secret) else None
    accepted = found is not None and (
        secret_matches(found.secret_hash, secret)
        or (found.previous_valid_until is not None and now < found.previous_valid_until
            and secret_matches(found.previous_secret_hash, secret)))
    if not accepted:
        raise SignInRefused("wrong client_id or client_secret", "invalid_client")
    user = session.get(User, found.user_id)
    if problem := _grant_problem(session, user, now):
        raise SignInRefused(problem, "invalid_client")
    return user
