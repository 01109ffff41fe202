from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from ..domain.claims import ClaimStatus
from ..domain.reports import ReportLine
from .tables import (CarbonReport, Enterprise, EnterpriseMember, ReportLineRow, ReportRetirement,
                     User)

# Only a confirmed claim is disclosed: every public read of enterprises goes through this.
DISCLOSED = col(Enterprise.claim_status) == ClaimStatus.CONFIRMED.value


def is_member(session: Session, enterprise_id: str, user_id: str) -> bool:
    return session.get(EnterpriseMember, (enterprise_id, user_id)) is not None


def open_claim(session: Session, uscc: str, user_id: str) -> Enterprise | None:
    """The user's pending or confirmed claim of the code, if any."""
    return session.exec(select(Enterprise).where(Enterprise.uscc == uscc)
                        .where(Enterprise.created_by == user_id)
                        .where(col(Enterprise.claim_status).in_([ClaimStatus.PENDING.value,
                                                                 ClaimStatus.CONFIRMED.value]))
                        ).first()


def enterprise_for_share(session: Session, enterprise_id: str) -> Enterprise | None:
    """The enterprise, its row share-locked until commit: a filing then sees the claim status a
    concurrent confirmation commits (and the confirmation sees the filing's report)."""
    return session.exec(select(Enterprise).where(Enterprise.id == enterprise_id)
                        .with_for_update(read=True)
                        .execution_options(populate_existing=True)).first()


def lock_claims_of_code(session: Session, enterprise_id: str) -> list[Enterprise]:
    """Every claim of the code `enterprise_id` claims, locked in id order (so two decisions on
    one code queue, never deadlock); [] if there is no such enterprise."""
    code = select(Enterprise.uscc).where(Enterprise.id == enterprise_id).scalar_subquery()
    return list(session.exec(select(Enterprise).where(Enterprise.uscc == code)
                             .order_by(col(Enterprise.id)).with_for_update()
                             .execution_options(populate_existing=True)).all())


def decide_claim(session: Session, enterprise_id: str, status: ClaimStatus, decided_by: str,
                 reason: str, decided_at: datetime) -> bool:
    """Record the decision on a pending claim; False if it was not pending (decided meanwhile):
    the update is conditional and its row count says which."""
    t = Enterprise.__table__
    done = session.execute(sa.update(t).where(t.c.id == enterprise_id)
                           .where(t.c.claim_status == ClaimStatus.PENDING.value)
                           .values(claim_status=status.value, decided_by=decided_by,
                                   decision_reason=reason, decided_at=decided_at))
    return done.rowcount == 1


def reject_pending_rivals(session: Session, enterprise_id: str, uscc: str, decided_by: str,
                          reason: str, decided_at: datetime) -> list[str]:
    """Reject the other pending claims of `uscc`; returns their ids."""
    t = Enterprise.__table__
    rows = session.execute(sa.update(t).where(t.c.uscc == uscc).where(t.c.id != enterprise_id)
                           .where(t.c.claim_status == ClaimStatus.PENDING.value)
                           .values(claim_status=ClaimStatus.REJECTED.value, decided_by=decided_by,
                                   decision_reason=reason, decided_at=decided_at)
                           .returning(t.c.id))
    return sorted(rows.scalars())


def claim_queue(session: Session, status: ClaimStatus, limit: int, offset: int):
    """(enterprise, claimant's username, number of other claims of its code), oldest first."""
    rival = aliased(Enterprise)
    others = (select(func.count()).select_from(rival)
              .where(rival.uscc == Enterprise.uscc).where(rival.id != Enterprise.id)
              .correlate(Enterprise).scalar_subquery())
    return session.exec(select(Enterprise, User.username, others)
                        .join(User, col(User.id) == col(Enterprise.created_by), isouter=True)
                        .where(Enterprise.claim_status == status.value)
                        .order_by(col(Enterprise.created_at), col(Enterprise.id))
                        .limit(limit).offset(offset)).all()


def current_reports_of(session: Session, enterprise_id: str) -> list[CarbonReport]:
    return list(session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                             .where(col(CarbonReport.is_current))
                             .order_by(col(CarbonReport.period))).all())


def current_report(session: Session, enterprise_id: str, period: str) -> CarbonReport | None:
    return session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                        .where(CarbonReport.period == period)
                        .where(col(CarbonReport.is_current))).first()


def supersede(session: Session, report_id: str) -> bool:
    """Mark a report no longer current, once: the update is conditional, and its row count says
    whether this request is the one that superseded it (a parallel revision finds 0 rows)."""
    t = CarbonReport.__table__
    done = session.execute(sa.update(t).where(t.c.id == report_id).where(t.c.is_current)
                           .values(is_current=False))
    return done.rowcount == 1


def add_lines(session: Session, report_id: str, lines: tuple[ReportLine, ...]) -> None:
    for n, line in enumerate(lines, start=1):
        session.add(ReportLineRow(report_id=report_id, line_no=n, factor_code=line.factor.code,
                                  factor_version=line.factor.version, factor_value=line.factor.value,
                                  factor_unit=line.factor.unit, factor_source=line.factor.source,
                                  scope=line.factor.scope, quantity=line.quantity, unit=line.unit,
                                  tco2e=line.tco2e, derivation=line.derivation))


def add_retirement(session: Session, retirement_id: str, report_id: str, quantity: int,
                   certificate_id: str, retired_at: datetime) -> None:
    """Once per retirement id, however often credits' event arrives."""
    t = ReportRetirement.__table__
    session.execute(postgresql.insert(t).values(
        retirement_id=retirement_id, report_id=report_id, quantity=quantity,
        certificate_id=certificate_id, retired_at=retired_at).on_conflict_do_nothing())


def member_ids(session: Session, enterprise_id: str) -> list[str]:
    return list(session.exec(select(EnterpriseMember.user_id)
                             .where(EnterpriseMember.enterprise_id == enterprise_id)).all())


def report_revisions(session: Session, enterprise_id: str, period: str) -> list[CarbonReport]:
    return list(session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                             .where(CarbonReport.period == period)
                             .order_by(col(CarbonReport.revision))).all())


def reports_of(session: Session, enterprise_id: str) -> list[CarbonReport]:
    return list(session.exec(select(CarbonReport).where(CarbonReport.enterprise_id == enterprise_id)
                             .order_by(col(CarbonReport.period).desc(),
                                       col(CarbonReport.revision).desc())).all())


def lines_of(session: Session, report_id: str) -> list[ReportLineRow]:
    return list(session.exec(select(ReportLineRow).where(ReportLineRow.report_id == report_id)
                             .order_by(col(ReportLineRow.line_no))).all())


def _pairs(periods: set[tuple[str, str]]):
    """The (enterprise id, period) pairs as two array parameters zipped by unnest: a literal
    list of pairs becomes one OR branch per pair, and ten thousand of them overflowed
    PostgreSQL's max_stack_depth (StatementTooComplex, which was answered as a 503)."""
    ids, names = zip(*sorted(periods), strict=True)
    text_array = postgresql.ARRAY(sa.Text)
    return sa.select(sa.func.unnest(sa.bindparam("enterprise_ids", list(ids), type_=text_array)),
                     sa.func.unnest(sa.bindparam("periods", list(names), type_=text_array)))


def retirements_of_periods(session: Session, periods: set[tuple[str, str]]
                           ) -> dict[tuple[str, str], list[tuple[ReportRetirement, int]]]:
    """Credits retired for each (enterprise id, period), with the revision each was made
    against, oldest first: retirements follow a period's corrections (made against revision 1,
    still counted once revision 2 is current), by joining through the report they name."""
    if not periods:
        return {}
    rows = session.exec(select(ReportRetirement, CarbonReport.enterprise_id, CarbonReport.period,
                               CarbonReport.revision)
                        .join(CarbonReport, col(CarbonReport.id) == col(ReportRetirement.report_id))
                        .where(sa.tuple_(col(CarbonReport.enterprise_id),
                                         col(CarbonReport.period)).in_(_pairs(periods)))
                        .order_by(col(ReportRetirement.retired_at),
                                  col(ReportRetirement.retirement_id))).all()
    found: dict[tuple[str, str], list[tuple[ReportRetirement, int]]] = {}
    for retirement, enterprise_id, period, revision in rows:
        found.setdefault((enterprise_id, period), []).append((retirement, revision))
    return found
