"""Typed domain errors, shared by every service's `domain/` and `usecases/`; no HTTP in here.

The web layer maps each class to one status (`web/problems.py`), and the consumer runner treats
them like any other handler failure (retry, then dead-letter). Database constraint violations
reach the same mapping: each service names its constraints once with `describe_constraints`, and
a violation answers 409 with that sentence, whichever code path forgot to check first.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request. `field` names the input it is about."""

    status = 400
    code = "domain-error"

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if code is not None:
            self.code = code
        self.extensions = extensions


class NotFound(DomainError):
    status = 404
    code = "not-found"


class Forbidden(DomainError):
    """The caller is known but may not do this (not the owner, wrong role for this object)."""

    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """The request contradicts the current state: a duplicate, a wrong state, too little left."""

    status = 409
    code = "conflict"


class Invalid(DomainError):
    """Well-formed input the domain's rules refuse (implausible, out of the allowed window)."""

    status = 422
    code = "invalid"


# What a constraint means to a user: (sentence, field or None), or with a third element, the
# problem code the application's own check of the same rule answers with (so a race reads the same
# as the refusal it slipped past).
Described = tuple[str, str | None] | tuple[str, str | None, str]
# constraint name -> (sentence for the user, field it is about or None, code or None)
_CONSTRAINTS: dict[str, tuple[str, str | None, str | None]] = {}


def describe_constraints(descriptions: dict[str, Described]) -> None:
    """Register what each named unique, check or exclusion constraint means to a user."""
    for name, described in descriptions.items():
        detail, field, *code = described
        _CONSTRAINTS[name] = (detail, field, code[0] if code else None)


def _code_by_kind(constraint: str) -> str:
    # the naming conventions of the migrations and of PostgreSQL's defaults (…_key, …_fkey)
    if constraint.startswith("ex_"):
        return "record-overlaps"
    if constraint.startswith("ck_"):
        return "record-rule"
    if constraint.startswith("fk_") or constraint.endswith("_fkey"):
        return "reference-missing"
    if constraint.startswith(("uq_", "ux_")) or constraint.endswith(("_key", "_pkey")):
        return "record-exists"
    return "constraint-violation"


def constraint_conflict(constraint: str | None) -> Conflict:
    """The 409 for a violated constraint; an unnamed or unknown one still names itself."""
    detail, field, code = _CONSTRAINTS.get(constraint or "", (None, None, None))
    return Conflict(detail or f"the request conflicts with existing data ({constraint or 'unknown'})",
                    field=field, code=code or _code_by_kind(constraint or ""),
                    constraint=constraint)
