"""Only accredited verifiers decide (pure: no I/O).

accounts grants a verification body's accreditation (organisation, number, validity) and may
revoke it; verification keeps a projection of those events. A design review or a verification
is decided under one grant that is valid on the decision day and not revoked; otherwise the
verifier is refused (403) with the reason: no accreditation, not valid yet, expired, revoked.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tanhui_shared.errors import Forbidden

# Grant dates are calendar days of the city (China Standard Time), like accounts' daily caps;
# a decision's day is its instant in this zone. Platform assumption: one city, one calendar.
CITY_TZ = ZoneInfo("Asia/Shanghai")


class NotAccredited(Forbidden):
    code = "not-accredited"


@dataclass(frozen=True)
class Grant:
    accreditation_id: str
    number: str
    organisation: str
    valid_from: date
    valid_to: date  # inclusive: the last day it is valid
    granted_at: datetime
    revoked_at: datetime | None = None

    def standing_on(self, day: date) -> bool:
        return self.revoked_at is None and self.valid_from <= day <= self.valid_to


def decision_day(instant: datetime) -> date:
    return instant.astimezone(CITY_TZ).date()


def standing_grant(grants: list[Grant], day: date) -> Grant:
    """The grant a decision on `day` is made under (the one valid longest, if several), or
    NotAccredited saying why the caller's latest grant does not allow it."""
    standing = [grant for grant in grants if grant.standing_on(day)]
    if standing:
        return max(standing, key=lambda grant: (grant.valid_to, grant.granted_at))
    if not grants:
        raise NotAccredited("you hold no verifier accreditation: an admin must grant one "
                            "before you review or verify")
    latest = max(grants, key=lambda grant: grant.granted_at)
    about = {"accreditation_id": latest.accreditation_id, "accreditation_number": latest.number}
    if latest.revoked_at is not None:
        raise NotAccredited(f"accreditation {latest.number} was revoked on "
                            f"{decision_day(latest.revoked_at)}",
                            code="accreditation-revoked", **about)
    if day > latest.valid_to:
        raise NotAccredited(f"accreditation {latest.number} expired on {latest.valid_to} "
                            f"(its last valid day)", code="accreditation-expired", **about)
    raise NotAccredited(f"accreditation {latest.number} is valid from {latest.valid_from}, "
                        f"not on {day}", code="accreditation-not-yet-valid", **about)
