"""Holding accounts and what the registry remembers of other services' records."""
from __future__ import annotations

import json

from tanhui_shared.contracts import ReportFiled
from tanhui_shared.uow import UnitOfWork

from ..store.accounts import open_account
from ..store.reports import lock_period, retire_others
from ..store.tables import FiledReport, HoldingAccount


def open_holding_account(uow: UnitOfWork, user_id: str, username: str, kind: str,
                         opened_by_event: str) -> HoldingAccount:
    """One account per user (idempotent): from UserRegistered, or from the first issuance."""
    return open_account(uow.session, user_id, username, kind, opened_by_event)


def remember_report(uow: UnitOfWork, report: ReportFiled) -> FiledReport:
    """Keep each revision of an enterprise report: who may retire against it, and which one is
    its period's current revision, the highest known. Revisions are separate reports (ids) whose
    events may arrive in any order: an older one arriving late is kept, not current."""
    session = uow.session
    revisions = lock_period(session, report.enterprise_id, report.period)
    known = next((r for r in revisions if r.id == report.report_id), None)
    if known is not None and known.revision >= report.revision:
        return known  # a redelivery, or an older copy arriving late, changes nothing
    newest_other = max((r.revision for r in revisions if r.id != report.report_id), default=0)
    is_current = report.revision > newest_other
    if is_current:
        retire_others(session, report.enterprise_id, report.period, report.report_id)
    known = known or FiledReport(id=report.report_id, enterprise_id=report.enterprise_id,
                                 enterprise_name=report.enterprise_name, period=report.period,
                                 revision=report.revision, total_tco2e=report.total_tco2e,
                                 member_user_ids="[]")
    known.enterprise_name, known.period = report.enterprise_name, report.period
    known.revision, known.total_tco2e = report.revision, report.total_tco2e
    known.member_user_ids = json.dumps(sorted(report.member_user_ids))
    known.is_current = is_current
    session.add(known)
    session.flush()  # `uq_filed_report_current` decides a race with a first revision here
    return known
