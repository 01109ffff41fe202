"""Granting, revoking and renewing accreditations; transit operators' client secrets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tanhui_shared.contracts import AccreditationGranted, AccreditationRevoked
from tanhui_shared.errors import Conflict, Invalid, NotFound
from tanhui_shared.uow import UnitOfWork

from ..client_secrets import NO_PASSWORD, digest, new_client_secret, new_initial_password
from ..domain.accreditation import Terms
from ..domain.identity import Role, reserved_name_problem
from ..security import hash_password
from ..store.access_tables import Accreditation, OAuthClient
from ..store.accreditations import grants_of, lock_client_of, lock_grant, overlapping_grant
from ..store.users import find_user
from .identity import register_user


@dataclass(frozen=True)
class NewCredentials:
    """A new account's first credentials, made before the transaction (argon2 is slow on
    purpose); used only if the grant creates the account. Plain values are shown once."""

    password: str | None  # a verifier's first password
    password_hash: str
    client_secret: str | None  # a transit operator's client secret
    client_secret_digest: str | None


def new_credentials(role: Role) -> NewCredentials:
    if role is Role.TRANSIT_OPERATOR:
        secret = new_client_secret()
        return NewCredentials(None, NO_PASSWORD, secret, digest(secret))
    password = new_initial_password()
    return NewCredentials(password, hash_password(password), None, None)


@dataclass(frozen=True)
class Granted:
    grant: Accreditation
    username: str
    initial_password: str | None = None  # set only when this grant created the account
    client_id: str | None = None
    client_secret: str | None = None


def grant_accreditation(uow: UnitOfWork, username: str, terms: Terms, credentials: NewCredentials,
                        granted_by: str) -> Granted:
    """Accredit a verification body or license a transit operator. A new username gets an
    account of the grant's role (`UserRegistered`) and its first credentials; a username that
    already holds grants of that role gets a renewal only (no new credentials)."""
    if problem := reserved_name_problem(username):
        raise Invalid(problem, field="username", code="invalid-username")
    session = uow.session
    user = find_user(session, username)
    created = user is None
    if user is None:
        user = register_user(uow, username, credentials.password_hash, terms.role)
        if terms.role is Role.TRANSIT_OPERATOR:
            session.add(OAuthClient(client_id=username, user_id=user.id,
                                    secret_hash=credentials.client_secret_digest))
    elif user.role != terms.role.value:
        raise Conflict(f"{username!r} is a {user.role} account; choose another username for the "
                       f"{terms.role.value}", field="username", code="username-not-grantable")
    elif not grants_of(session, user.id):
        # Registered by itself before accreditation existed: whoever did that holds its
        # credentials, so it is not trusted by being granted; the body gets a new account.
        raise Conflict(f"{username!r} registered itself and was never accredited; grant under a "
                       f"new username", field="username", code="username-not-grantable")
    elif clash := overlapping_grant(session, user.id, terms.valid_from, terms.valid_to):
        raise Conflict(f"{username!r} already holds grant {clash.id} valid {clash.valid_from} to "
                       f"{clash.valid_to}; start the renewal after it or revoke it first",
                       field="valid_from", accreditation_id=clash.id, code="grant-overlap")
    grant = Accreditation(user_id=user.id, role=terms.role.value, organisation=terms.organisation,
                          number=terms.number, valid_from=terms.valid_from,
                          valid_to=terms.valid_to, modes=[m.value for m in terms.modes],
                          granted_by=granted_by)
    session.add(grant)
    session.flush()  # a race past the checks above meets the exclusion constraint here
    uow.emit(AccreditationGranted(
        accreditation_id=grant.id, user_id=user.id, username=username, role=grant.role,
        organisation=grant.organisation, number=grant.number, valid_from=grant.valid_from,
        valid_to=grant.valid_to, modes=list(grant.modes), granted_at=grant.granted_at))
    if not created:
        return Granted(grant, username)
    return Granted(grant, username, initial_password=credentials.password,
                   client_id=username if credentials.client_secret else None,
                   client_secret=credentials.client_secret)


def revoke_accreditation(uow: UnitOfWork, accreditation_id: str, reason: str, revoked_by: str,
                         now: datetime) -> Accreditation:
    """From `now` on the holder gets no token and creates no value under this grant."""
    grant = lock_grant(uow.session, accreditation_id)
    if grant is None:
        raise NotFound(f"no accreditation {accreditation_id}", field="accreditation_id",
                       code="accreditation-not-found")
    if grant.revoked_at is not None:
        raise Conflict(f"accreditation {accreditation_id} was already revoked at "
                       f"{grant.revoked_at.isoformat()}", field="accreditation_id",
                       code="accreditation-already-revoked")
    grant.revoked_at, grant.revoked_by, grant.revocation_reason = now, revoked_by, reason
    uow.session.add(grant)
    uow.emit(AccreditationRevoked(accreditation_id=grant.id, user_id=grant.user_id,
                                  role=grant.role, reason=reason, revoked_at=now))
    return grant


@dataclass(frozen=True)
class Rotated:
    client_id: str
    previous_valid_until: datetime


def rotate_client_secret(uow: UnitOfWork, accreditation_id: str, new_secret_digest: str,
                         overlap: timedelta, now: datetime) -> Rotated:
    """Give the operator holding this grant a new client secret. The one it replaces keeps
    working until now + overlap, so the operator can deploy the new one without an outage; a
    secret replaced before that is dropped at once (only the latest replaced one overlaps)."""
    grant = uow.session.get(Accreditation, accreditation_id)
    if grant is None:
        raise NotFound(f"no accreditation {accreditation_id}", field="accreditation_id",
                       code="accreditation-not-found")
    if grant.role != Role.TRANSIT_OPERATOR.value:
        raise Conflict("only transit operators have client secrets; a verifier changes its "
                       "password", field="accreditation_id", code="not-a-transit-operator")
    client = lock_client_of(uow.session, grant.user_id)
    if client is None:  # pragma: no cover - every granted operator got a client with its account
        raise NotFound("this operator has no client credentials", field="accreditation_id",
                       code="no-client-credentials")
    client.previous_secret_hash, client.previous_valid_until = client.secret_hash, now + overlap
    client.secret_hash, client.rotated_at = new_secret_digest, now
    uow.session.add(client)
    return Rotated(client.client_id, client.previous_valid_until)
