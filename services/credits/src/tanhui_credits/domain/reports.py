"""Enterprise reports as the registry sees them: a retirement counts against a report's current
revision only (pure rules, no I/O)."""
from __future__ import annotations

from tanhui_shared.errors import Conflict


class ReportSuperseded(Conflict):
    """A retirement named a revision a correction has replaced: it would count against figures
    nobody discloses any more, so the enterprise retires against the current revision."""

    code = "report-superseded"

    def __init__(self, report_id: str, revision: int, period: str,
                 current_id: str | None, current_revision: int | None) -> None:
        newer = (f"revision {current_revision} ({current_id!r})" if current_id
                 else "a newer revision")
        super().__init__(f"report {report_id!r} is revision {revision} of {period}, superseded "
                         f"by {newer}: retire against the current revision", field="report_id",
                         current_report_id=current_id, current_revision=current_revision)
