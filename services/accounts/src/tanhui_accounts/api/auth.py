"""Registration, tokens and the caller's identity."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Header, Request, Response
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from tanhui_shared.errors import Forbidden, Invalid, NotFound
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import run_unit_of_work
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.problems import Problem

from ..domain.identity import SELF_REGISTRABLE, Role, reserved_name_problem
from ..domain.passwords import MAX_LENGTH, MIN_LENGTH, password_problem
from ..security import hash_password, password_matches
from ..store.tables import User
from ..usecases.identity import register_user
from ..usecases.passwords import change_password
from ..usecases.sign_in import SignInRefused, client_sign_in, password_sign_in

router = APIRouter(prefix="/api/v1", tags=["identity"])


class Registration(ApiModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$",
                          description="3-64 characters: lower-case letters, digits, _ . -")
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH,
                          description="not a common password, not the username")
    role: Role

    @field_validator("username")
    @classmethod
    def _not_reserved(cls, username: str) -> str:
        if problem := reserved_name_problem(username):
            raise ValueError(problem)
        return username

    @field_validator("password")
    @classmethod
    def _acceptable(cls, password: str, info: ValidationInfo) -> str:
        if problem := password_problem(password, info.data.get("username")):
            raise ValueError(problem)
        return password

    @field_validator("role")
    @classmethod
    def _self_registrable(cls, role: Role) -> Role:
        if role in (Role.VERIFIER, Role.TRANSIT_OPERATOR):
            raise ValueError(f"{role.value} accounts are granted by an administrator with an "
                             f"accreditation or licence, not self-registered")
        if role not in SELF_REGISTRABLE:
            raise ValueError(f"{role.value} accounts are created by an operator, not by registration")
        return role


class UserView(BaseModel):
    id: str
    username: str
    role: str
    created_at: datetime


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/auth/register", status_code=201, response_model=UserView)
def register(body: Registration, session: SessionDep) -> UserView:
    password_hash = hash_password(body.password)  # slow on purpose: outside the transaction
    user = run_unit_of_work(session, lambda uow: register_user(uow, body.username, password_hash,
                                                               body.role))
    return UserView.model_validate(user, from_attributes=True)


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1: each form-encoded first)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # bad base64 (binascii.Error) or not UTF-8 (UnicodeDecodeError)
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _refused("malformed HTTP Basic client credentials", "invalid_client", basic=True)
    return unquote_plus(client_id), unquote_plus(secret)


def _refused(detail: str, error: str, *, basic: bool = False) -> Problem:
    challenge = 'Basic realm="tanhui"' if basic else "Bearer"
    return Problem(401, detail, headers={"WWW-Authenticate": challenge}, error=error,
                   code="sign-in-refused")


def _missing(field: str, grant_type: str) -> Problem:
    return Problem(422, f"{field} is required for grant_type={grant_type}", field=field,
                   error="invalid_request", code="token-request-field-missing")


@router.post("/auth/token", response_model=AccessToken)
def issue_token(session: SessionDep, request: Request, response: Response,
                grant_type: Annotated[str | None, Form(description=(
                    "password (the default) or client_credentials (transit operators)"))] = None,
                username: Annotated[str | None, Form()] = None,
                password: Annotated[str | None, Form()] = None,
                client_id: Annotated[str | None, Form()] = None,
                client_secret: Annotated[str | None, Form()] = None,
                authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
                ) -> AccessToken:
    """OAuth 2.0 token endpoint: the password grant for people, the client-credentials grant
    (RFC 6749 §4.4; secret in the form or by HTTP Basic) for transit operators' machines."""
    settings = request.app.state.settings
    claims: dict[str, str] = {}
    basic = _basic_credentials(authorization)
    try:
        if grant_type == "client_credentials":
            if basic and client_secret is not None:
                raise Problem(400, "send the client secret once: by HTTP Basic or in the form",
                              field="client_secret", error="invalid_request",
                              code="client-secret-twice")
            client_id, client_secret = basic or (client_id, client_secret)
            if not client_id:
                raise _missing("client_id", grant_type)
            if client_secret is None:
                raise _missing("client_secret", grant_type)
            user = client_sign_in(session, client_id, client_secret, utcnow())
            ttl, claims["client_id"] = settings.client_token_ttl_s, client_id
        elif grant_type in (None, "password"):
            if username is None:
                raise _missing("username", "password")
            if password is None:
                raise _missing("password", "password")
            user = password_sign_in(session, username, password, utcnow())
            ttl = settings.access_token_ttl_s
        else:
            raise Problem(400, "grant_type must be password or client_credentials",
                          field="grant_type", error="unsupported_grant_type",
                          code="unsupported-grant-type")
    except SignInRefused as refused:
        raise _refused(refused.detail, refused.error, basic=basic is not None) from None
    token = request.app.state.signing_key.issue(
        {"sub": user.id, "preferred_username": user.username, "role": user.role, **claims},
        ttl, settings.jwt_issuer, settings.jwt_audience,
    )
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    return AccessToken(access_token=token, expires_in=ttl)


@router.get("/me", response_model=UserView)
def me(principal: CurrentUser, session: SessionDep) -> User:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("this token's user no longer exists", code="account-not-found")
    return user


class PasswordChange(ApiModel):
    current_password: str = Field(max_length=MAX_LENGTH)
    new_password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH,
                              description="not a common password, not the username")


@router.post("/me/password", status_code=204, response_class=Response)
def change_my_password(body: PasswordChange, principal: CurrentUser,
                       session: SessionDep) -> Response:
    """Change the caller's password: the current one, then a new one the policy accepts."""
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("this token's user no longer exists", code="account-not-found")
    username, role, checked_hash = user.username, user.role, user.password_hash
    session.rollback()  # the read's transaction ends here; the change runs in its own
    if role == Role.TRANSIT_OPERATOR.value:
        raise Forbidden("transit operators have no password: an administrator rotates their "
                        "client secret", field="current_password", code="operator-has-no-password")
    if problem := password_problem(body.new_password, username):
        raise Invalid(f"new_password {problem}", field="new_password", code="weak-password")
    if body.new_password == body.current_password:
        raise Invalid("new_password must differ from the current password", field="new_password",
                      code="password-unchanged")
    # argon2 is slow on purpose: both hashes are worked out before the transaction
    if not password_matches(checked_hash, body.current_password):
        raise Forbidden("the current password is wrong", field="current_password",
                        code="wrong-password")
    new_hash = hash_password(body.new_password)
    run_unit_of_work(session, lambda uow: change_password(uow, principal.user_id, checked_hash,
                                                          new_hash))
    return Response(status_code=204)
