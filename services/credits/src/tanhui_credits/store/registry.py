"""Public registry queries: totals per project and vintage, block search, a serial's lineage."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from ..domain.serials import SerialBlock, format_serial
from .accounts import BUFFER_POOL_ID, usernames
from .audit import entries_by_id
from .blocks import serial_range
from .tables import Block, BufferCompensation, Issuance, Project, Retirement


def scanned_project_totals(session: Session) -> list[dict[str, Any]]:
    """issued, held, retired, buffer and cancelled per project and vintage, summed from every
    issuance and block: the reference the rollup (store/totals.py, which the API reads) must
    equal, for checks and tests; a scan of the whole registry."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    projects = {p.id: p for p in session.exec(select(Project)).all()}

    def row(project_id: str, vintage: int) -> dict[str, Any]:
        project = projects.get(project_id)
        return rows.setdefault((project_id, vintage), {
            "project_id": project_id, "project_number": project.project_number if project else None,
            "project_name": project.name if project else "", "vintage": vintage,
            "issued": 0, "held": 0, "retired": 0, "buffer": 0, "cancelled": 0})

    issued = select(Issuance.project_id, Issuance.vintage,
                    func.sum(Issuance.owner_quantity + Issuance.buffer_quantity)
                    ).group_by(Issuance.project_id, Issuance.vintage)
    for project_id, vintage, total in session.exec(issued).all():
        row(project_id, vintage)["issued"] = int(total or 0)
    live = (select(Block.project_id, Block.vintage, Block.status, Block.account_id,
                   func.sum(Block.last - Block.first + 1))
            .where(Block.status != "superseded")
            .group_by(Block.project_id, Block.vintage, Block.status, Block.account_id))
    for project_id, vintage, status, account_id, total in session.exec(live).all():
        bucket = ("retired" if status == "retired" else "cancelled" if status == "cancelled" else
                  "buffer" if account_id == BUFFER_POOL_ID else "held")
        row(project_id, vintage)[bucket] += int(total or 0)
    return sorted(rows.values(), key=lambda r: (r["project_number"] or 0, r["vintage"]))


def blocks_view(session: Session, rows: list[Block]) -> list[dict[str, Any]]:
    names = usernames(session, {r.account_id for r in rows})
    return [{"block_id": r.id, "serials": serial_range(r), "project_id": r.project_id,
             "vintage": r.vintage, "quantity": r.quantity, "status": r.status,
             "holder": names.get(r.account_id), "listing_id": r.listing_id,
             "retirement_id": r.retirement_id, "compensation_id": r.compensation_id}
            for r in rows]


def blocks_containing(session: Session, serial: SerialBlock, *, current_only: bool) -> list[Block]:
    query = select(Block).where(Block.project_number == serial.project_number,
                                Block.vintage == serial.vintage,
                                Block.first <= serial.last, Block.last >= serial.first)
    if current_only:
        query = query.where(Block.status != "superseded")
    return list(session.exec(query.order_by(Block.id)).all())


def blocks_of_project(session: Session, project_id: str) -> list[Block]:
    return list(session.exec(select(Block).where(Block.project_id == project_id,
                                                 Block.status != "superseded")
                             .order_by(Block.vintage, Block.first)).all())


def lineage(session: Session, serial: SerialBlock) -> dict[str, Any] | None:
    """Every block that ever held this serial, from issuance through splits and transfers to
    retirement, with the audit entries that created and closed each block."""
    rows = blocks_containing(session, SerialBlock(serial.project_number, serial.vintage,
                                                  serial.first, serial.first), current_only=False)
    if not rows:
        return None
    issuance = session.get(Issuance, rows[0].issuance_id)
    entries = entries_by_id(session, {r.created_by for r in rows} |
                            {r.closed_by for r in rows if r.closed_by})
    names = usernames(session, {r.account_id for r in rows})
    steps = []
    for row in rows:
        created = entries[row.created_by]
        closed = entries.get(row.closed_by) if row.closed_by else None
        steps.append({
            "block_id": row.id, "serials": serial_range(row), "holder": names.get(row.account_id),
            "status": row.status, "parent_block_id": row.parent_block_id,
            "listing_id": row.listing_id,
            # seq is None while the movement waits for the sequencer (pending)
            "created_by": {"seq": created.seq, **json.loads(created.body)},
            "closed_by": {"seq": closed.seq, **json.loads(closed.body)} if closed else None,
        })
    retired = rows[-1].retirement_id
    retirement = session.get(Retirement, retired) if retired else None
    cancelled_for = rows[-1].compensation_id
    compensation = session.get(BufferCompensation, cancelled_for) if cancelled_for else None
    return {
        "serial": format_serial(serial.project_number, serial.vintage, serial.first),
        "issuance": issuance and {
            "issuance_id": issuance.id, "project_id": issuance.project_id,
            "vintage": issuance.vintage, "monitoring_report_id": issuance.monitoring_report_id,
            "verification_id": issuance.verification_id,
            "verifier_user_id": issuance.verifier_user_id,
            "monitoring_period": [issuance.period_start, issuance.period_end],
            "verified_tco2e": str(issuance.verified_tco2e), "buffer_pct": str(issuance.buffer_pct),
            "issued_at": issuance.issued_at},
        "steps": steps,
        "retirement": retirement and {
            "retirement_id": retirement.id, "certificate_id": retirement.certificate_id,
            "beneficiary": retirement.beneficiary, "purpose": retirement.purpose,
            "retired_at": retirement.retired_at},
        # cancelled to compensate a verified loss: the loss it made good
        "compensation": compensation and compensation_view(compensation),
    }


def compensation_view(row: BufferCompensation) -> dict[str, Any]:
    return {"loss_id": row.loss_id, "project_id": row.project_id, "cause": row.cause,
            "occurred_on": row.occurred_on, "verified_tco2e": str(row.verified_tco2e),
            "monitoring_report_id": row.monitoring_report_id, "loss_credits": row.loss_credits,
            "required": row.required, "from_pool": row.from_pool,
            "from_developer": row.from_developer, "shortfall": row.shortfall,
            "compensated_at": row.compensated_at, "audit_entry_id": row.entry_id}


def compensations(session: Session, project_id: str | None = None) -> list[BufferCompensation]:
    query = select(BufferCompensation)
    if project_id is not None:
        query = query.where(BufferCompensation.project_id == project_id)
    return list(session.exec(query.order_by(BufferCompensation.compensated_at,
                                            BufferCompensation.loss_id)).all())


def cancelled_blocks(session: Session, loss_id: str) -> list[Block]:
    return list(session.exec(select(Block).where(Block.compensation_id == loss_id)
                             .order_by(Block.id)).all())
