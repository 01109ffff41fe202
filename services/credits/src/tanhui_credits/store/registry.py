"""Public registry queries: totals per project and vintage, block search, a serial's lineage."""
from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, select

from ..domain.serials import SerialBlock, format_range, format_serial
from .accounts import BUFFER_POOL_ID, usernames
from .blocks import serial_range
from .tables import (AuditEntry, AuditPending, Block, BufferCompensation, HoldingAccount, Issuance,
                     Project, Retirement)
from .totals import RegistryTotal


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


def block_page(session: Session, *, serial: SerialBlock | None = None,
               project_id: str | None = None, limit: int, offset: int = 0,
               after: tuple[int, int] | None = None) -> tuple[int, list[Block], tuple[int, int] | None]:
    """One page of the current (not superseded) blocks holding any serial of `serial`, or of a
    project, by vintage and first serial (current blocks never overlap, so that is unique),
    with how many there are and the last one's (vintage, first) when more follow. `after`: the
    key the previous page ended on; the page is then an index range of the serials' index.
    A project's count is its live blocks in the registry totals the triggers keep."""
    current = [Block.status != "superseded"]
    if serial is not None:
        current += [Block.project_number == serial.project_number, Block.vintage == serial.vintage,
                    Block.first <= serial.last, Block.last >= serial.first]
        total = session.exec(select(func.count()).select_from(Block).where(*current)).one()
    else:
        # the project's number as well: the serials' index then serves the order
        number = select(Project.project_number).where(Project.id == project_id).scalar_subquery()
        current += [Block.project_id == project_id, Block.project_number == number]
        total = session.exec(select(func.coalesce(func.sum(RegistryTotal.live_blocks), 0))
                             .where(RegistryTotal.project_id == project_id)).one()
    query = select(Block).where(*current)
    if after is not None:
        query = query.where(sa.tuple_(Block.vintage, Block.first) > sa.tuple_(*after))
    rows = list(session.exec(query.order_by(Block.vintage, Block.first)
                             .limit(limit + 1).offset(offset)).all())
    last = (rows[limit - 1].vintage, rows[limit - 1].first) if len(rows) > limit else None
    return int(total), rows[:limit], last


def _entry(entry_id):
    """The audit entry `entry_id` names, chained or pending (seq null), as a lateral subquery:
    the entry moves from pending to chained in one transaction, so one statement (one
    snapshot) finds it once."""
    chained = sa.select(AuditEntry.seq, AuditEntry.body).where(AuditEntry.entry_id == entry_id)
    pending = (sa.select(sa.null().label("seq"), AuditPending.body)
               .where(AuditPending.entry_id == entry_id))
    return sa.union_all(chained, pending)


@functools.cache
def _lineage_statement() -> sa.Select:
    """Every block over one serial with its holder and the entries that created and closed it,
    in one statement built once: it was a query per kind of row (blocks, entries by a list of
    up to two hundred ids, holders) of ORM objects, each costing more than the database did."""
    b, h = Block.__table__, HoldingAccount.__table__
    created = _entry(b.c.created_by).lateral("created")
    closed = _entry(b.c.closed_by).lateral("closed")
    return (sa.select(b.c.id, b.c.project_number, b.c.vintage, b.c.first, b.c.last,
                      b.c.status, b.c.parent_block_id, b.c.listing_id, b.c.issuance_id,
                      b.c.retirement_id, b.c.compensation_id, b.c.closed_by,
                      h.c.owner_username, created.c.seq.label("created_seq"),
                      created.c.body.label("created_body"), closed.c.seq.label("closed_seq"),
                      closed.c.body.label("closed_body"))
            .select_from(b.outerjoin(h, h.c.id == b.c.account_id)
                         .outerjoin(created, sa.true()).outerjoin(closed, sa.true()))
            .where(b.c.project_number == sa.bindparam("project_number"),
                   b.c.vintage == sa.bindparam("vintage"),
                   b.c.first <= sa.bindparam("serial"), b.c.last >= sa.bindparam("serial"))
            .order_by(b.c.id))


def lineage(session: Session, serial: SerialBlock) -> dict[str, Any] | None:
    """Every block that ever held this serial, from issuance through splits and transfers to
    retirement, with the audit entries that created and closed each block."""
    rows = session.execute(_lineage_statement(), {
        "project_number": serial.project_number, "vintage": serial.vintage,
        "serial": serial.first}).all()
    if not rows:
        return None
    steps = []
    for row in rows:
        steps.append({
            "block_id": row.id,
            "serials": format_range(SerialBlock(row.project_number, row.vintage, row.first,
                                                row.last)),
            "holder": row.owner_username, "status": row.status,
            "parent_block_id": row.parent_block_id, "listing_id": row.listing_id,
            # seq is None while the movement waits for the sequencer (pending)
            "created_by": {"seq": row.created_seq, **json.loads(row.created_body)},
            "closed_by": ({"seq": row.closed_seq, **json.loads(row.closed_body)}
                          if row.closed_by else None),
        })
    issuance = session.get(Issuance, rows[0].issuance_id)
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


def compensation_page(session: Session, project_id: str | None, *, limit: int, offset: int = 0,
                      after: tuple[datetime, str] | None = None
                      ) -> tuple[int, list[BufferCompensation], tuple[datetime, str] | None]:
    """One page of the compensated losses, oldest first, with how many there are and the last
    one's (compensated_at, loss_id) when more follow."""
    conditions = [] if project_id is None else [BufferCompensation.project_id == project_id]
    total = session.exec(select(func.count()).select_from(BufferCompensation)
                         .where(*conditions)).one()
    if after is not None:
        conditions.append(sa.tuple_(BufferCompensation.compensated_at, BufferCompensation.loss_id)
                          > sa.tuple_(*after))
    rows = list(session.exec(select(BufferCompensation).where(*conditions)
                             .order_by(BufferCompensation.compensated_at, BufferCompensation.loss_id)
                             .limit(limit + 1).offset(offset)).all())
    last = ((rows[limit - 1].compensated_at, rows[limit - 1].loss_id) if len(rows) > limit
            else None)
    return int(total), rows[:limit], last


def cancelled_blocks(session: Session, loss_id: str) -> list[Block]:
    return list(session.exec(select(Block).where(Block.compensation_id == loss_id)
                             .order_by(Block.id)).all())
