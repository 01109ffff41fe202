from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.methodology import EmissionFactor, FuelComponents

from ..domain.factors import replacement
from .tables import FactorVersion


def to_domain(row: FactorVersion) -> EmissionFactor:
    parts = None
    if row.components:
        parts = FuelComponents(**{k: Decimal(v) for k, v in json.loads(row.components).items()})
    return EmissionFactor(row.code, row.name, row.category, row.scope, row.activity_unit,
                          Decimal(row.value), row.source, row.version, row.valid_from,
                          row.valid_to, parts)


def live_versions(session: Session, codes: Iterable[str]) -> list[EmissionFactor]:
    """Every version of these codes that no correction has superseded, whatever its validity:
    the caller picks the one valid for its period (tanhui_shared.methodology.version_for)."""
    rows = session.exec(select(FactorVersion).where(col(FactorVersion.code).in_(list(codes)))
                        .where(col(FactorVersion.superseded_at).is_(None))).all()
    return [to_domain(row) for row in rows]


def list_versions(session: Session, code: str | None = None,
                  valid_on: date | None = None) -> list[FactorVersion]:
    """Every published version, superseded ones included, oldest first per code; `valid_on`
    keeps the live versions valid that day (what a report on that day would use)."""
    query = select(FactorVersion)
    if code is not None:
        query = query.where(FactorVersion.code == code)
    if valid_on is not None:
        query = (query.where(col(FactorVersion.superseded_at).is_(None))
                 .where(FactorVersion.valid_from <= valid_on)
                 .where(or_(col(FactorVersion.valid_to).is_(None),
                            col(FactorVersion.valid_to) >= valid_on)))
    return list(session.exec(query.order_by(FactorVersion.code, FactorVersion.valid_from,
                                            FactorVersion.published_at)).all())


def is_published(session: Session, code: str, version: str) -> bool:
    return session.exec(select(FactorVersion.id).where(FactorVersion.code == code)
                        .where(FactorVersion.version == version)).first() is not None


def publish_factor_version(session: Session, factor: EmissionFactor) -> None:
    """Publish a version: a live version of the code it overlaps is closed the day before it
    starts (if it started earlier) or superseded (a correction of the rest of its span); see
    domain.factors.replacement. Filed reports keep their copy. A publish racing this one
    inserts an overlapping live version and loses on the exclusion constraint."""
    new_range = func.daterange(factor.valid_from, factor.valid_to, "[]")
    old_range = func.daterange(FactorVersion.valid_from, FactorVersion.valid_to, "[]")
    for row in session.exec(select(FactorVersion).where(FactorVersion.code == factor.code)
                            .where(col(FactorVersion.superseded_at).is_(None))
                            .where(old_range.op("&&")(new_range))
                            .with_for_update()).all():
        if replacement(to_domain(row), factor) == "close":
            row.valid_to = factor.valid_from - timedelta(days=1)
        else:
            row.superseded_at = utcnow()
        session.add(row)
    session.flush()  # closed or superseded before the new version is checked against them
    components = (json.dumps({k: str(v) for k, v in vars(factor.components).items()})
                  if factor.components else None)
    session.add(FactorVersion(code=factor.code, version=factor.version, name=factor.name,
                              category=factor.category, scope=factor.scope,
                              activity_unit=factor.activity_unit, value=factor.value,
                              source=factor.source, valid_from=factor.valid_from,
                              valid_to=factor.valid_to, components=components))
