"""accounts' typed refusals. The web layer maps each base class to its status in one place
(tanhui_shared.web.problems); the consumer runner retries and dead-letters them like any error."""
from __future__ import annotations

from tanhui_shared.errors import Conflict, Invalid, NotFound


class InsufficientPoints(Conflict):
    code = "insufficient-points"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="points")


class NoPointsAccount(NotFound):
    code = "no-points-account"

    def __init__(self) -> None:
        super().__init__("no personal carbon account for this user")


class TripNotCredited(Invalid):
    """A trip the rules refuse (outside the claim window, implausible speed, overlapping
    another): nothing is written. A reason that names its input (`TripRefusal`, e.g. a
    `started_at` outside the window) makes that the problem's field."""

    code = "trip-not-credited"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field=getattr(reason, "field", "trip"), reason=str(reason))


class UsernameTaken(Conflict):
    code = "username-taken"

    def __init__(self, username: str) -> None:
        super().__init__(f"username {username!r} is already taken", field="username")


class ClaimDecided(Conflict):
    code = "claim-decided"

    def __init__(self, status: str) -> None:
        super().__init__(f"this claim was already decided: it is {status}", field="decision",
                         claim_status=status)


class CodeAlreadyConfirmed(Conflict):
    code = "uscc-confirmed"

    def __init__(self, enterprise_id: str) -> None:
        super().__init__(f"another claim to this unified social credit code is confirmed "
                         f"(enterprise {enterprise_id}); reject this one", field="uscc",
                         confirmed_enterprise_id=enterprise_id)


class UsccAlreadyClaimed(Conflict):
    code = "uscc-already-claimed"

    def __init__(self, enterprise_id: str) -> None:
        super().__init__(f"you already claim this unified social credit code (enterprise "
                         f"{enterprise_id}); wait for the regulator's decision", field="uscc",
                         enterprise_id=enterprise_id)


class PeriodAlreadyFiled(Conflict):
    code = "period-already-filed"

    def __init__(self, period: str, current_id: str) -> None:
        super().__init__(f"a report for {period} is already filed (report {current_id}); file a "
                         f"correction as a revision of it", field="period", report_id=current_id)


class ReportSuperseded(Conflict):
    """A revision must correct the current report: revising an older one would fork the history."""

    code = "report-superseded"

    def __init__(self, report_id: str) -> None:
        super().__init__(f"report {report_id} has been superseded by a later revision; revise the "
                         f"current report of its period", field="report_id")
