"""Issuance from a verified monitoring report: once per issuance_id, serials continue per vintage."""
from __future__ import annotations

from sqlmodel import Session, select

from tanhui_shared.contracts import CloudEvent, CreditsIssued, MonitoringVerified
from tanhui_shared.messaging import record_event

from ..domain.serials import format_serial, issuance_split
from .accounts import BUFFER_POOL_ID, open_account
from .audit import Journal
from .blocks import describe
from .tables import Block, Issuance, Project, SerialCounter, new_id


def issue(session: Session, event: CloudEvent, verified: MonitoringVerified) -> Issuance | None:
    """Issue the verified tonnes; None if this issuance_id was issued before (a redelivery)."""
    if session.get(Issuance, verified.issuance_id) is not None:
        return None
    _remember_project(session, verified)
    # Event order across topics is not guaranteed: the owner's UserRegistered may come later.
    owner = open_account(session, verified.owner_user_id, verified.owner_username,
                         "organisation", event.id)
    owner_qty, buffer_qty = issuance_split(verified.verified_tco2e, verified.buffer_pct)
    first = _reserve_serials(session, verified.project_id, verified.vintage, owner_qty + buffer_qty)
    issuance = Issuance(
        id=verified.issuance_id, project_id=verified.project_id, vintage=verified.vintage,
        monitoring_report_id=verified.monitoring_report_id,
        verification_id=verified.verification_id, verifier_user_id=verified.verifier_user_id,
        period_start=verified.period_start, period_end=verified.period_end,
        verified_tco2e=verified.verified_tco2e, buffer_pct=verified.buffer_pct,
        owner_account_id=owner.id, owner_quantity=owner_qty, buffer_quantity=buffer_qty,
        serial_first=first, serial_last=first + owner_qty + buffer_qty - 1,
        caused_by_event=event.id)
    session.add(issuance)
    session.flush()  # the unique issuance id: a concurrent duplicate fails here, before any block

    entry_id = new_id()
    blocks = []
    for account_id, start, count in ((owner.id, first, owner_qty),
                                     (BUFFER_POOL_ID, first + owner_qty, buffer_qty)):
        if count:
            blocks.append(Block(project_id=verified.project_id,
                                project_number=verified.project_number, vintage=verified.vintage,
                                first=start, last=start + count - 1, account_id=account_id,
                                issuance_id=issuance.id, created_by=entry_id))
    session.add_all(blocks)
    journal = Journal()
    journal.record("issue", lambda: {
        "issuance_id": issuance.id, "project_id": issuance.project_id,
        "monitoring_report_id": issuance.monitoring_report_id,
        "verification_id": issuance.verification_id,
        "verified_tco2e": str(issuance.verified_tco2e), "buffer_pct": str(issuance.buffer_pct),
        "owner_quantity": owner_qty, "buffer_quantity": buffer_qty,
        "blocks": [describe(b) for b in blocks]}, entry_id)
    journal.write(session)

    def serial(n: int) -> str:
        return format_serial(verified.project_number, verified.vintage, n) if owner_qty + buffer_qty else ""

    record_event(session, CreditsIssued(
        issuance_id=issuance.id, project_id=issuance.project_id,
        monitoring_report_id=issuance.monitoring_report_id, vintage=issuance.vintage,
        owner_user_id=verified.owner_user_id, quantity=owner_qty, buffer_quantity=buffer_qty,
        serial_first=serial(issuance.serial_first), serial_last=serial(issuance.serial_last),
        issued_at=issuance.issued_at))
    return issuance


def _remember_project(session: Session, verified: MonitoringVerified) -> None:
    project = session.get(Project, verified.project_id)
    if project is None:
        session.add(Project(id=verified.project_id, project_number=verified.project_number,
                            name=verified.project_name, kind=verified.project_kind,
                            county=verified.county, owner_user_id=verified.owner_user_id))
    elif project.project_number != verified.project_number:
        raise ValueError(f"project {project.id} already has registry number "
                         f"{project.project_number}, not {verified.project_number}")


def _reserve_serials(session: Session, project_id: str, vintage: int, count: int) -> int:
    """The first of `count` fresh serials for (project, vintage); the counter row is locked."""
    counter = session.exec(select(SerialCounter)
                           .where(SerialCounter.project_id == project_id,
                                  SerialCounter.vintage == vintage).with_for_update()).first()
    if counter is None:
        counter = SerialCounter(project_id=project_id, vintage=vintage, next_serial=1)
    first = counter.next_serial
    counter.next_serial = first + count
    session.add(counter)
    return first
