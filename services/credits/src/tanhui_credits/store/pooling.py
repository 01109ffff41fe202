"""Reads and writes of the pooled redemptions: open serials, shares, citizens' certificates."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..domain.hashing import canonical_json, certificate_hash
from ..domain.pooling import KG_PER_SERIAL, Serial, Share, Source
from ..domain.serials import format_serial
from .pool_tables import PooledRedemption, PoolShare
from .tables import Block, Certificate, Project, Retirement


def open_sources(session: Session) -> list[Source]:
    """Serials retired for redemptions that still have unallocated kg, oldest retired first
    (the caller holds the pool's lock). Every such serial got a share when it was retired, and
    is allocated from kg 0 upwards, so its next free kg is the end of its last share."""
    t, r = PoolShare.__table__, Retirement.__table__
    allocated = sa.func.max(t.c.serial_to_kg)
    rows = session.execute(
        sa.select(t.c.project_id, t.c.project_number, t.c.vintage, t.c.serial,
                  t.c.retirement_id, allocated)
        .join(r, r.c.id == t.c.retirement_id)
        .group_by(t.c.project_id, t.c.project_number, t.c.vintage, t.c.serial,
                  t.c.retirement_id, r.c.retired_at)
        .having(allocated < KG_PER_SERIAL)
        .order_by(r.c.retired_at, t.c.project_number, t.c.vintage, t.c.serial)).all()
    return [Source(Serial(p, n, v, s), rid, kg) for p, n, v, s, rid, kg in rows]


def fresh_sources(rows: list[Block], retirement_id: str) -> list[Source]:
    """Every serial of these just-retired blocks, in certificate order, nothing allocated."""
    ordered = sorted(rows, key=lambda r: (r.project_number, r.vintage, r.first))
    return [Source(Serial(r.project_id, r.project_number, r.vintage, n), retirement_id)
            for r in ordered for n in range(r.first, r.last + 1)]


def record_shares(session: Session, shares: list[Share], redemption_kg: int) -> None:
    session.add_all([PoolShare(
        redemption_id=s.redemption_id, redemption_kg=redemption_kg,
        retirement_id=s.retirement_id, project_id=s.serial.project_id,
        project_number=s.serial.project_number, vintage=s.serial.vintage,
        serial=s.serial.serial, serial_from_kg=s.serial_from_kg, serial_to_kg=s.serial_to_kg,
        own_from_kg=s.own_from_kg, own_to_kg=s.own_to_kg) for s in shares])
    session.flush()  # the exclusion constraints judge the shares here


def pool_summary(session: Session, beneficiary: str) -> dict[str, Any]:
    """The serials the city's pool retired ahead for redemptions: how many kg went to citizens
    and how many stay the city's, in total and per serial still open."""
    r, t = Retirement.__table__, PoolShare.__table__
    retired = session.execute(sa.select(sa.func.coalesce(sa.func.sum(r.c.quantity), 0),
                                        sa.func.count())
                              .where(r.c.beneficiary == beneficiary)).one()
    allocated = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(t.c.serial_to_kg - t.c.serial_from_kg), 0))
        .join(r, r.c.id == t.c.retirement_id).where(r.c.beneficiary == beneficiary)).scalar()
    serials = int(retired[0])
    return {
        "retirements": int(retired[1]),
        "serials_retired": serials,
        "kg_retired": serials * KG_PER_SERIAL,
        "kg_allocated": int(allocated),
        "kg_unallocated": serials * KG_PER_SERIAL - int(allocated),
        "open_serials": [
            {"serial": format_serial(s.serial.project_number, s.serial.vintage, s.serial.serial),
             "retirement_id": s.retirement_id, "kg_allocated": s.allocated_kg,
             "kg_unallocated": s.unallocated} for s in open_sources(session)],
    }


def shares_of(session: Session, redemption_id: str) -> list[PoolShare]:
    return list(session.exec(select(PoolShare).where(PoolShare.redemption_id == redemption_id)
                             .order_by(PoolShare.own_from_kg)).all())


def certify_redemption(session: Session, redemption: PooledRedemption, certificate_id: str,
                       completed_at: datetime, purpose: str) -> tuple[Certificate, list[dict]]:
    """The citizen's certificate: their kg of each retired serial, naming the latest retirement
    they come from. Returns it and the shares."""
    shares = shares_of(session, redemption.id)
    completed_by = shares[-1].retirement_id  # allocation runs oldest retired first
    names = {p.id: p.name for p in session.exec(
        select(Project).where(Project.id.in_({s.project_id for s in shares}))).all()}
    listed = [{"serial": format_serial(s.project_number, s.vintage, s.serial),
               "kg": s.serial_to_kg - s.serial_from_kg, "retirement_id": s.retirement_id}
              for s in shares]
    projects: dict[tuple[str, int], dict[str, Any]] = {}
    kg_by_project: dict[tuple[str, int], int] = defaultdict(int)
    for s in shares:
        key = (s.project_id, s.vintage)
        projects.setdefault(key, {"project_id": s.project_id, "project_number": s.project_number,
                                  "project_name": names.get(s.project_id, ""),
                                  "vintage": s.vintage})
        kg_by_project[key] += s.serial_to_kg - s.serial_from_kg
    for key, entry in projects.items():
        entry["quantity"] = str(Decimal(kg_by_project[key]) / KG_PER_SERIAL)  # tonnes
    fields = {
        "certificate_id": certificate_id,
        "retirement_id": completed_by,
        "retirement_ids": sorted({s.retirement_id for s in shares}),
        "beneficiary": redemption.username,
        "purpose": purpose,
        "quantity": str(Decimal(redemption.kg) / KG_PER_SERIAL),  # tonnes, as a decimal
        "kg": redemption.kg,
        "shares": listed,
        "serials": sorted({x["serial"] for x in listed}),
        "projects": list(projects.values()),
        "retired_at": completed_at.isoformat(),
        "report_id": None,
        "event_id": None,
        "redemption_id": redemption.id,
    }
    certificate = Certificate(id=certificate_id, retirement_id=completed_by,
                              redemption_id=redemption.id, fields=canonical_json(fields),
                              content_hash=certificate_hash(fields))
    session.add(certificate)
    return certificate, listed
