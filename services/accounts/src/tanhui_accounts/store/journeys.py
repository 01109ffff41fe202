"""Owner-scoped lists for the console (issue 14): a user's enterprises, trips and redemptions,
and the administrator's list of users. Newest first, one page with the total."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from .access_tables import Accreditation
from .tables import Enterprise, EnterpriseMember, GreenTrip, Redemption, User


def _page(session: Session, model, conditions: list, order: list, limit: int, offset: int):
    total = session.exec(select(func.count()).select_from(model).where(*conditions)).one()
    rows = session.exec(select(model).where(*conditions).order_by(*order)
                        .limit(limit).offset(offset)).all()
    return total, list(rows)


def enterprises_page(session: Session, member_id: str | None, claim_status: str | None, *,
                     limit: int, offset: int) -> tuple[int, list[Enterprise]]:
    """`member_id`: only the enterprises that user registered or belongs to; None: all."""
    conditions = []
    if member_id is not None:
        member = select(EnterpriseMember.enterprise_id).where(
            EnterpriseMember.user_id == member_id)
        conditions.append(sa.or_(Enterprise.created_by == member_id,
                                 col(Enterprise.id).in_(member)))
    if claim_status is not None:
        conditions.append(Enterprise.claim_status == claim_status)
    return _page(session, Enterprise, conditions,
                 [col(Enterprise.created_at).desc(), col(Enterprise.id)], limit, offset)


def trips_page(session: Session, user_id: str, *, mode: str | None, since: date | None,
               until: date | None, limit: int,
               offset: int) -> tuple[int, list[tuple[GreenTrip, str | None]]]:
    """The citizen's trips, newest start first, each with the username of the transit operator
    that fed it (None: the citizen's own app). `since`/`until`: the city's calendar days the
    trips started on, both inclusive."""
    conditions = [GreenTrip.user_id == user_id]
    if mode is not None:
        conditions.append(GreenTrip.mode == mode)
    if since is not None:
        conditions.append(GreenTrip.local_day >= since)
    if until is not None:
        conditions.append(GreenTrip.local_day <= until)
    total = session.exec(select(func.count()).select_from(GreenTrip).where(*conditions)).one()
    operator = aliased(User)
    rows = session.exec(
        select(GreenTrip, operator.username)
        .outerjoin(operator, sa.and_(col(operator.id) == col(GreenTrip.recorded_by),
                                     col(GreenTrip.recorded_by) != col(GreenTrip.user_id)))
        .where(*conditions)
        .order_by(col(GreenTrip.started_at).desc(), col(GreenTrip.id))
        .limit(limit).offset(offset)).all()
    return total, [(trip, name) for trip, name in rows]


def redemptions_page(session: Session, user_id: str, state: str | None, *, limit: int,
                     offset: int) -> tuple[int, list[Redemption]]:
    conditions = [Redemption.user_id == user_id]
    if state is not None:
        conditions.append(Redemption.state == state)
    return _page(session, Redemption, conditions,
                 [col(Redemption.created_at).desc(), col(Redemption.id)], limit, offset)


def _escaped_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (its % and _ match themselves)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users_page(session: Session, role: str | None, q: str | None, *, limit: int,
               offset: int) -> tuple[int, list[User]]:
    """Every user, newest first; `q`: a part of the username, in any case."""
    conditions = []
    if role is not None:
        conditions.append(User.role == role)
    if q is not None:
        conditions.append(col(User.username).ilike(f"%{_escaped_like(q)}%", escape="\\"))
    return _page(session, User, conditions, [col(User.created_at).desc(), col(User.id)],
                 limit, offset)


def grants_by_user(session: Session, user_ids: list[str]) -> dict[str, list[Accreditation]]:
    grants: dict[str, list[Accreditation]] = defaultdict(list)
    if user_ids:
        for grant in session.exec(select(Accreditation)
                                  .where(col(Accreditation.user_id).in_(user_ids))).all():
            grants[grant.user_id].append(grant)
    return grants
