"""Holding accounts and what the registry remembers of other services' records."""
from __future__ import annotations

import json

from tanhui_shared.contracts import ReportFiled
from tanhui_shared.uow import UnitOfWork

from ..store.accounts import open_account
from ..store.tables import FiledReport, HoldingAccount


def open_holding_account(uow: UnitOfWork, user_id: str, username: str, kind: str,
                         opened_by_event: str) -> HoldingAccount:
    """One account per user (idempotent): from UserRegistered, or from the first issuance."""
    return open_account(uow.session, user_id, username, kind, opened_by_event)


def remember_report(uow: UnitOfWork, report: ReportFiled) -> FiledReport:
    """Keep the newest revision of an enterprise report: who may retire against it."""
    session = uow.session
    known = session.get(FiledReport, report.report_id, with_for_update=True)
    if known is not None and known.revision >= report.revision:
        return known  # an older revision arriving late changes nothing
    known = known or FiledReport(id=report.report_id, enterprise_id=report.enterprise_id,
                                 enterprise_name=report.enterprise_name, period=report.period,
                                 revision=report.revision, total_tco2e=report.total_tco2e,
                                 member_user_ids="[]")
    known.enterprise_name, known.period = report.enterprise_name, report.period
    known.revision, known.total_tco2e = report.revision, report.total_tco2e
    known.member_user_ids = json.dumps(sorted(report.member_user_ids))
    session.add(known)
    return known
