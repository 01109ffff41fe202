from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import Session, col, select

from tanhui_shared.messaging.outbox import utcnow

from ..domain.factors import EmissionFactor, FuelComponents
from .tables import FactorVersion


def _to_domain(row: FactorVersion) -> EmissionFactor:
    parts = None
    if row.components:
        parts = FuelComponents(**{k: Decimal(v) for k, v in json.loads(row.components).items()})
    return EmissionFactor(row.code, row.name, row.scope, row.activity_unit, Decimal(row.value),
                          row.source, row.version, row.valid_from, row.valid_to, parts)


def current_factors(session: Session) -> dict[str, EmissionFactor]:
    rows = session.exec(select(FactorVersion).where(col(FactorVersion.superseded_at).is_(None))
                        .order_by(FactorVersion.code)).all()
    return {row.code: _to_domain(row) for row in rows}


def is_published(session: Session, code: str, version: str) -> bool:
    return session.exec(select(FactorVersion.id).where(FactorVersion.code == code)
                        .where(FactorVersion.version == version)).first() is not None


def publish_factor_version(session: Session, factor: EmissionFactor) -> None:
    """A new version replaces the current one for new reports; filed reports keep their copy."""
    for row in session.exec(select(FactorVersion).where(FactorVersion.code == factor.code)
                            .where(col(FactorVersion.superseded_at).is_(None))
                            .with_for_update()).all():
        row.superseded_at = utcnow()
        session.add(row)
    components = (json.dumps({k: str(v) for k, v in vars(factor.components).items()})
                  if factor.components else None)
    session.add(FactorVersion(code=factor.code, version=factor.version, name=factor.name,
                              scope=factor.scope, activity_unit=factor.activity_unit,
                              value=factor.value, source=factor.source,
                              valid_from=factor.valid_from, valid_to=factor.valid_to,
                              components=components))
