"""Registration, tokens and the caller's identity."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field, field_validator

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import run_unit_of_work
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.models import ApiModel, is_storable
from tanhui_shared.web.problems import Problem

from ..domain.identity import RESERVED_USERNAMES, SELF_REGISTRABLE, Role
from ..security import hash_password, password_matches
from ..store.tables import User
from ..store.users import find_user
from ..usecases.identity import register_user

router = APIRouter(prefix="/api/v1", tags=["identity"])


class Registration(ApiModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$",
                          description="3-64 characters: lower-case letters, digits, _ . -")
    password: str = Field(min_length=8, max_length=128)
    role: Role

    @field_validator("username")
    @classmethod
    def _not_reserved(cls, username: str) -> str:
        if username in RESERVED_USERNAMES:
            raise ValueError("this name belongs to one of the registry's own accounts")
        return username

    @field_validator("role")
    @classmethod
    def _self_registrable(cls, role: Role) -> Role:
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


@router.post("/auth/token", response_model=AccessToken)
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep,
                request: Request) -> AccessToken:
    # A name PostgreSQL cannot hold is no user's: the same answer as any unknown name.
    user = find_user(session, form.username) if is_storable(form.username) else None
    if not password_matches(user.password_hash if user else None, form.password) or user is None:
        raise Problem(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    settings = request.app.state.settings
    token = request.app.state.signing_key.issue(
        {"sub": user.id, "preferred_username": user.username, "role": user.role},
        settings.access_token_ttl_s, settings.jwt_issuer, settings.jwt_audience,
    )
    return AccessToken(access_token=token, expires_in=settings.access_token_ttl_s)


@router.get("/me", response_model=UserView)
def me(principal: CurrentUser, session: SessionDep) -> User:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("this token's user no longer exists")
    return user
