"""A verifier's decisions as they read back: which kind, and what was decided (pure).

Every verifier's step on a project's timeline is a decision made under an accreditation
(ck_project_timeline_accreditation), so the timeline is the one record of them: a design review,
a monitoring report's verification, or a loss event's verification.
"""
from __future__ import annotations

from enum import StrEnum


class DecisionKind(StrEnum):
    REVIEW = "review"
    VERIFICATION = "verification"
    LOSS = "loss"


# timeline step -> the outcome in the words the verifier's request used
OUTCOMES: dict[str, str] = {
    "registered": "approved",
    "rejected": "rejected",
    "changes_requested": "changes_requested",
    "monitoring_verified": "verified",
    "monitoring_rejected": "rejected",
    "loss_verified": "confirmed",
    "loss_rejected": "rejected",
}


def decision_kind(monitoring_report_id: str | None, loss_event_id: str | None) -> DecisionKind:
    if loss_event_id is not None:
        return DecisionKind.LOSS
    if monitoring_report_id is not None:
        return DecisionKind.VERIFICATION
    return DecisionKind.REVIEW


def outcome_of(step: str) -> str:
    """The outcome of a decision step; a step this table does not know reads as itself."""
    return OUTCOMES.get(step, step)
