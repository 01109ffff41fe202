"""Owner-scoped lists (issue 14): what a user listed, organised, bought, retired and was
certified for, newest first, a page at a time. Every query filters on the caller's user id
before anything else, so no other user's rows can reach a page."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import contains_eager
from sqlmodel import Session, func, select

from .market_tables import LargeEvent, Listing, ListingPurchase, ListingStock
from .pool_tables import PooledRedemption
from .tables import Certificate, Redemption, Retirement

def _page(session: Session, query: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """(the rows of one page, how many rows the whole query has)."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    return list(session.exec(query.limit(limit).offset(offset)).all()), total


def seller_listings(session: Session, user_id: str, status: str | None, limit: int,
                    offset: int) -> tuple[list[Listing], int]:
    query = (select(Listing).join(Listing.stock).where(Listing.seller_user_id == user_id)
             .options(contains_eager(Listing.stock)))
    if status is not None:
        query = query.where(ListingStock.status == status)
    return _page(session, query.order_by(Listing.created_at.desc(), Listing.id), limit, offset)


def organizer_events(session: Session, user_id: str) -> Any:
    """The organizer's events, newest first (a query: the caller pages or filters it)."""
    return (select(LargeEvent).where(LargeEvent.organizer_user_id == user_id)
            .order_by(LargeEvent.created_at.desc(), LargeEvent.id))


def page_events(session: Session, user_id: str, limit: int, offset: int
                ) -> tuple[list[LargeEvent], int]:
    return _page(session, organizer_events(session, user_id), limit, offset)


def all_events(session: Session, user_id: str) -> list[LargeEvent]:
    return list(session.exec(organizer_events(session, user_id)).all())


def buyer_purchases(session: Session, user_id: str, limit: int, offset: int
                    ) -> tuple[list[ListingPurchase], int]:
    query = (select(ListingPurchase).where(ListingPurchase.buyer_user_id == user_id)
             .order_by(ListingPurchase.purchased_at.desc(), ListingPurchase.id))
    return _page(session, query, limit, offset)


def retirements_by(session: Session, user_id: str, limit: int, offset: int
                   ) -> tuple[list[Retirement], int]:
    query = (select(Retirement).where(Retirement.retired_by_user_id == user_id)
             .order_by(Retirement.retired_at.desc(), Retirement.id))
    return _page(session, query, limit, offset)


def certificates_of(session: Session, user_id: str, limit: int, offset: int
                    ) -> tuple[list[Certificate], int]:
    """The certificates of the user's own retirements and of the user's redemptions (the
    city's pool retires those in the citizen's name, so they name no retiring user)."""
    mine = or_(
        Certificate.id.in_(select(Retirement.certificate_id)
                           .where(Retirement.retired_by_user_id == user_id)),
        Certificate.id.in_(select(Redemption.certificate_id)
                           .where(Redemption.user_id == user_id)),
        Certificate.id.in_(select(PooledRedemption.certificate_id)
                           .where(PooledRedemption.user_id == user_id)))
    # a pooled certificate sorts by the latest retirement its kg come from (certificate
    # rows keep no time of their own; the certified retired_at is in their fields)
    query = (select(Certificate).join(Retirement, Retirement.id == Certificate.retirement_id)
             .where(mine).order_by(Retirement.retired_at.desc(), Certificate.id))
    return _page(session, query, limit, offset)
