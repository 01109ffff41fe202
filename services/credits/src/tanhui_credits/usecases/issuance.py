"""Issuance from a verified monitoring report: once per issuance_id and per report; serials
continue per project and vintage."""
from __future__ import annotations

from tanhui_shared.contracts import CreditsIssued, MonitoringVerified
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import UnitOfWork

from ..domain.serials import format_serial, issuance_split
from ..store.accounts import BUFFER_POOL_ID, open_account
from ..store.blocks import describe
from ..store.issuance import issuance_of_report, remember_project, reserve_serials
from ..store.tables import Block, Issuance, new_id
from .common import journal


def issue_credits(uow: UnitOfWork, verified: MonitoringVerified, caused_by_event: str
                  ) -> Issuance | None:
    """Issue the verified tonnes to the owner and the buffer pool; None if this issuance_id was
    issued before (a redelivery). Another issuance for the same report is a Conflict (and
    uq_issuance_monitoring_report refuses it even when two arrive at once)."""
    session = uow.session
    if session.get(Issuance, verified.issuance_id) is not None:
        return None
    earlier = issuance_of_report(session, verified.monitoring_report_id)
    if earlier is not None:
        raise Conflict(f"monitoring report {verified.monitoring_report_id} was already issued "
                       f"as {earlier.id}", field="monitoring_report_id", code="already-issued")
    remember_project(session, verified)
    # Event order across topics is not guaranteed: the owner's UserRegistered may come later.
    owner = open_account(session, verified.owner_user_id, verified.owner_username,
                         "organisation", caused_by_event)
    owner_qty, buffer_qty = issuance_split(verified.verified_tco2e, verified.buffer_pct)
    first = reserve_serials(session, verified.project_id, verified.vintage, owner_qty + buffer_qty)
    issuance = Issuance(
        id=verified.issuance_id, project_id=verified.project_id, vintage=verified.vintage,
        monitoring_report_id=verified.monitoring_report_id,
        verification_id=verified.verification_id, verifier_user_id=verified.verifier_user_id,
        period_start=verified.period_start, period_end=verified.period_end,
        verified_tco2e=verified.verified_tco2e, buffer_pct=verified.buffer_pct,
        owner_account_id=owner.id, owner_quantity=owner_qty, buffer_quantity=buffer_qty,
        serial_first=first, serial_last=first + owner_qty + buffer_qty - 1,
        caused_by_event=caused_by_event)
    session.add(issuance)
    session.flush()  # the unique issuance id and report: a concurrent duplicate stops here

    entry_id = new_id()
    blocks = [Block(project_id=verified.project_id, project_number=verified.project_number,
                    vintage=verified.vintage, first=start, last=start + count - 1,
                    account_id=account_id, issuance_id=issuance.id, created_by=entry_id)
              for account_id, start, count in ((owner.id, first, owner_qty),
                                               (BUFFER_POOL_ID, first + owner_qty, buffer_qty))
              if count]
    session.add_all(blocks)
    journal(uow).record("issue", lambda: {
        "issuance_id": issuance.id, "project_id": issuance.project_id,
        "monitoring_report_id": issuance.monitoring_report_id,
        "verification_id": issuance.verification_id,
        "verified_tco2e": str(issuance.verified_tco2e), "buffer_pct": str(issuance.buffer_pct),
        "owner_quantity": owner_qty, "buffer_quantity": buffer_qty,
        "blocks": [describe(b) for b in blocks]}, entry_id)

    def serial(n: int) -> str:  # an issuance of nothing (under 1 t verified) has no serials
        return format_serial(verified.project_number, verified.vintage, n) if blocks else ""

    uow.emit(CreditsIssued(
        issuance_id=issuance.id, project_id=issuance.project_id,
        monitoring_report_id=issuance.monitoring_report_id, vintage=issuance.vintage,
        owner_user_id=verified.owner_user_id, quantity=owner_qty, buffer_quantity=buffer_qty,
        serial_first=serial(issuance.serial_first), serial_last=serial(issuance.serial_last),
        issued_at=issuance.issued_at))
    return issuance
