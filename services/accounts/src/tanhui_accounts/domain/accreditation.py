"""Accreditation: who may verify or feed trips, from which day to which day. Pure rules.

A verification body (`verifier`) holds an accreditation and a transit operator a licence for
some travel modes; an admin grants either with the organisation, its number and the validity,
and may revoke it. Validity is counted in the city's calendar days, like the daily points caps.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from tanhui_shared.errors import Invalid

from .identity import Role
from .travel import Mode, TripRefusal
from .trip_batch import CITY_TZ

GRANTED_ROLES = frozenset({Role.VERIFIER, Role.TRANSIT_OPERATOR})


class GrantStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NOT_YET_VALID = "not_yet_valid"


def city_today(now: datetime | None = None) -> date:
    """The city's calendar day: a grant valid "until 31 March" holds until midnight in the city."""
    return (now or datetime.now(CITY_TZ)).astimezone(CITY_TZ).date()


@dataclass(frozen=True)
class Terms:
    """What an admin grants: to whom (role), for which organisation, under which number, for
    which days (valid_to is the last valid day) and, for a transit operator, which modes."""

    role: Role
    organisation: str
    number: str
    valid_from: date
    valid_to: date
    modes: tuple[Mode, ...]

    def __post_init__(self) -> None:
        if self.role not in GRANTED_ROLES:
            raise Invalid(f"only {', '.join(sorted(GRANTED_ROLES))} accounts are granted",
                          field="role", code="role-not-grantable")
        if self.valid_to < self.valid_from:
            raise Invalid("valid_to (the last valid day) must not be before valid_from",
                          field="valid_to", code="validity-reversed")
        if self.role is Role.TRANSIT_OPERATOR and not self.modes:
            raise Invalid("a transit operator's licence names at least one travel mode",
                          field="modes", code="licence-modes")
        if self.role is Role.VERIFIER and self.modes:
            raise Invalid("a verifier's accreditation names no travel modes", field="modes",
                          code="licence-modes")
        # one entry per mode, in the enum's order, so equal licences read the same
        object.__setattr__(self, "modes", tuple(m for m in Mode if m in set(self.modes)))


def grant_status(valid_from: date, valid_to: date, revoked: bool, today: date) -> GrantStatus:
    """What a grant is on `today`. store/accreditations.py filters by the same four cases."""
    if revoked:
        return GrantStatus.REVOKED
    if today < valid_from:
        return GrantStatus.NOT_YET_VALID
    if today > valid_to:
        return GrantStatus.EXPIRED
    return GrantStatus.ACTIVE


@dataclass(frozen=True)
class GrantFacts:
    """The parts of a stored grant the rules read."""

    valid_from: date
    valid_to: date
    revoked_at: datetime | None
    revocation_reason: str | None


def why_not_valid(grants: list[GrantFacts], today: date) -> str | None:
    """None if one of a user's grants is valid `today`, else the reason to give them: the grant
    still to come first, else the latest one that ended (by revocation or expiry)."""
    if not grants:
        return "this account holds no accreditation; an administrator grants one"
    statuses = [(grant_status(g.valid_from, g.valid_to, g.revoked_at is not None, today), g)
                for g in grants]
    if any(status is GrantStatus.ACTIVE for status, _ in statuses):
        return None
    coming = [g for status, g in statuses if status is GrantStatus.NOT_YET_VALID]
    if coming:
        return f"this account's accreditation is valid from {min(g.valid_from for g in coming)}"
    latest = max(grants, key=lambda g: (g.revoked_at.date() if g.revoked_at else g.valid_to))
    if latest.revoked_at is not None:
        return (f"this account's accreditation was revoked on "
                f"{latest.revoked_at.astimezone(CITY_TZ).date()}: {latest.revocation_reason}")
    return f"this account's accreditation expired after {latest.valid_to}"


def standing(grants: list[GrantFacts], today: date) -> GrantStatus | None:
    """A user's standing today, by the same order as `why_not_valid`: active if a grant is valid,
    else not yet valid if one is to come, else how the latest one ended; None without grants."""
    if not grants:
        return None
    statuses = [(grant_status(g.valid_from, g.valid_to, g.revoked_at is not None, today), g)
                for g in grants]
    for wanted in (GrantStatus.ACTIVE, GrantStatus.NOT_YET_VALID):
        if any(status is wanted for status, _ in statuses):
            return wanted
    latest = max(grants, key=lambda g: (g.revoked_at.date() if g.revoked_at else g.valid_to))
    return GrantStatus.REVOKED if latest.revoked_at is not None else GrantStatus.EXPIRED


def licence_refusal(mode: Mode, licensed: tuple[Mode, ...] | list[Mode]) -> TripRefusal | None:
    """None if a transit operator licensed for `licensed` may feed a trip by `mode`."""
    if mode in licensed:
        return None
    return TripRefusal(f"mode {mode.value} is not in this operator's licence "
                       f"({', '.join(licensed)})", "mode", "mode-not-licensed")
