"""An enterprise's claim to a unified social credit code (USCC): pending until the regulator
decides it. A code has at most one confirmed enterprise; other claimants of the code queue
behind it instead of being refused, so the first registrant cannot lock the real company out.
Only a confirmed enterprise is disclosed (its reports, the city figures, credits' retirements).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tanhui_shared.errors import Invalid

from .errors import ClaimDecided, CodeAlreadyConfirmed


class ClaimStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Decision(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


# What a confirmed claim records when the regulator gave no reason of its own.
CONFIRMED_WITHOUT_REASON = "confirmed by the regulator"
# What the other pending claims of a code record when one of them is confirmed.
RIVAL_CONFIRMED = ("another enterprise's claim to this unified social credit code was confirmed "
                   "by the regulator")


@dataclass(frozen=True)
class Verdict:
    status: ClaimStatus
    reason: str


def decide(current: str, decision: Decision, reason: str | None,
           confirmed_rival: str | None) -> Verdict:
    """The status and recorded reason of a claim now `current`, decided `decision` with the
    regulator's `reason`; `confirmed_rival` is the id of another confirmed claim of the code."""
    if current != ClaimStatus.PENDING:
        raise ClaimDecided(current)
    reason = (reason or "").strip() or None
    if decision is Decision.REJECT:
        if reason is None:
            raise Invalid("say why the claim is rejected: the enterprise reads it", field="reason",
                          code="rejection-needs-reason")
        return Verdict(ClaimStatus.REJECTED, reason)
    if confirmed_rival is not None:
        raise CodeAlreadyConfirmed(confirmed_rival)
    return Verdict(ClaimStatus.CONFIRMED, reason or CONFIRMED_WITHOUT_REASON)


def is_disclosed(status: str) -> bool:
    """Whether the public (disclosures, city figures, credits) may learn of the enterprise."""
    return status == ClaimStatus.CONFIRMED
