"""`Idempotency-Key` for every mutating request: a replay returns the first answer, unchanged.

The stored answer is written in the same transaction as the effect, so either both exist or
neither does. Two concurrent requests with one key race on the record's primary key: the loser's
transaction (effect included) rolls back and it answers with the winner's stored response.
The same key with a different body is 422.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic_core import to_json
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from ..messaging.outbox import utcnow
from ..uow import UnitOfWork, run_unit_of_work
from .problems import Problem

if TYPE_CHECKING:  # only migrations need Alembic; services would pay a second to import it
    from alembic.operations import Operations

MAX_KEY_LENGTH = 200


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    scope: str = Field(primary_key=True)  # the caller (user id), so keys never collide across users
    key: str = Field(primary_key=True)
    fingerprint: str  # method, path and body hash of the first request
    status_code: int
    response_body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class JsonReady(dict):
    """An answer already made of JSON's own types (str, int, float, bool, None, lists, dicts):
    stored and sent as it is. jsonable_encoder walked a 10,000-record feed's answer for longer
    than the feed took to write."""


class _JsonReadyResponse(JSONResponse):
    """JSONResponse's bytes (compact, UTF-8) written by pydantic-core: json.dumps took a
    10,000-record feed's answer three times as long."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


class IdempotentRequest:
    def __init__(self, key: str | None, method: str, path: str, body: bytes) -> None:
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise Problem(422, f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters",
                          field="Idempotency-Key", code="idempotency-key-invalid")
        if key is not None and not key.isprintable():  # a NUL would fail in the driver as a 500
            raise Problem(422, "Idempotency-Key must be printable characters",
                          field="Idempotency-Key", code="idempotency-key-invalid")
        self.key = key
        self._request = (method, path, body)

    @cached_property
    def fingerprint(self) -> str:
        """Computed only for a request with a key: canonicalising a transit operator's 10,000-trip
        body costs as much as parsing it again."""
        method, path, body = self._request
        canonical = body
        try:  # the same JSON with other spacing or key order is the same request
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            pass
        return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" +
                              canonical).hexdigest()

    def execute(self, session: Session, scope: str, operation: Callable[[UnitOfWork], Any],
                status_code: int = 200) -> JSONResponse:
        """Run `operation` in one unit of work, or replay the answer stored under this key."""
        if self.key is not None and (replay := self._replay(session, scope)) is not None:
            return replay

        def remembered(uow: UnitOfWork) -> Any:
            # jsonable_encoder, not model_dump(mode="json"): a Decimal stays a JSON number here,
            # as clients of these answers have always read it (model_dump would make it a string)
            answer = operation(uow)
            body = answer if isinstance(answer, JsonReady) else jsonable_encoder(answer)
            if self.key is not None:
                uow.finish()  # the operation's own conflicts (and its journal) surface before ours
                uow.session.add(IdempotencyRecord(scope=scope, key=self.key,
                                                  fingerprint=self.fingerprint,
                                                  status_code=status_code,
                                                  response_body=_stored(body)))
                try:
                    uow.session.flush()
                except IntegrityError as exc:
                    raise _LostTheRace from exc
            return body

        try:
            body = run_unit_of_work(session, remembered)
        except _LostTheRace:
            replay = self._replay(session, scope)
            if replay is None:  # pragma: no cover - the winner committed before we could lose
                raise Problem(409, "a request with this Idempotency-Key is still in progress",
                              code="idempotency-in-progress") from None
            return replay
        if isinstance(body, JsonReady):
            return _JsonReadyResponse(body, status_code=status_code)
        return JSONResponse(body, status_code=status_code)

    def _replay(self, session: Session, scope: str) -> JSONResponse | None:
        record = session.get(IdempotencyRecord, (scope, self.key))
        session.rollback()  # end the read transaction; the caller opens its own
        if record is None:
            return None
        if record.fingerprint != self.fingerprint:
            raise Problem(422, "this Idempotency-Key was already used with a different request",
                          field="Idempotency-Key", code="idempotency-key-reused")
        return JSONResponse(json.loads(record.response_body), status_code=record.status_code,
                            headers={"Idempotent-Replayed": "true"})


def _stored(body: Any) -> str:
    # read back with json.loads on a replay, whichever wrote it
    return to_json(body).decode() if isinstance(body, JsonReady) else json.dumps(body)


class _LostTheRace(Exception):
    pass


async def idempotent_request(
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> IdempotentRequest:
    if idempotency_key is None:  # never replayed, so nothing to fingerprint: no URL to build
        return IdempotentRequest(None, request.method, "", b"")
    return IdempotentRequest(idempotency_key, request.method, request.url.path, await request.body())


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]


def create_idempotency_table(op: Operations) -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("scope", sa.String, primary_key=True),
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("fingerprint", sa.String, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response_body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
