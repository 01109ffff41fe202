"""Listings (credits reserved for sale) and the queries of event offsets."""
from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import case, func, update
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from tanhui_shared.errors import Conflict

from ..domain.serials import InsufficientCredits
from .block_writes import driver_rows
from .market_tables import EventAccounting, LargeEvent, Listing, ListingStock
from .tables import Retirement


class ListingNotOpen(Conflict):
    code = "listing-not-open"


def open_listings(session: Session) -> list[Listing]:
    """Every open listing, cheapest first, its stock loaded with it."""
    return list(session.exec(select(Listing).join(Listing.stock)
                             .where(ListingStock.status == "open")
                             .options(contains_eager(Listing.stock))
                             .order_by(Listing.price_per_tonne, Listing.id)).all())


def lock_listing(session: Session, listing_id: str) -> Listing | None:
    """The listing locked FOR UPDATE (it waits for the offsets in flight, which hold it FOR KEY
    SHARE, and holds off later ones), then its stock, locked and read fresh in a statement of
    its own: read in the first, it would be as it was before that statement waited."""
    listing = session.exec(select(Listing).where(Listing.id == listing_id).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if listing is not None:
        stock = session.exec(select(ListingStock).where(ListingStock.listing_id == listing_id)
                             .with_for_update().execution_options(populate_existing=True)).one()
        set_committed_value(listing, "stock", stock)  # not loaded again on access
    return listing


def _cheapest_open():  # noqa: ANN202
    return (select(Listing.id).join(Listing.stock).where(ListingStock.status == "open")
            .order_by(Listing.price_per_tonne, Listing.id))


def listings_to_buy_from(session: Session, quantity: int) -> list[Listing]:
    """The cheapest open listings that together cover `quantity`, each locked FOR UPDATE (with
    its stock, lock_listing).

    They are locked one by one in (price, id) order, and only as many as the purchase needs:
    concurrent buyers queue in one order (no deadlock) and a buyer never blocks listings it does
    not buy from. Raises InsufficientCredits, having written nothing, if they cannot cover it.
    """
    listings, available = [], 0
    for listing_id in session.exec(_cheapest_open()).all():
        listing = lock_listing(session, listing_id)
        if listing.stock.status != "open":
            continue  # sold out or cancelled by someone ahead of us in the queue
        listings.append(listing)
        available += listing.stock.remaining
        if available >= quantity:
            return listings
    raise InsufficientCredits(quantity, available)


_LISTING, _STOCK = Listing.__table__, ListingStock.__table__


def sell_cheapest(session: Session, quantity: int) -> Iterator[tuple[Listing, int]]:
    """Sell `quantity` from the cheapest open listings: yields each listing (an entity, or in
    the common case a row of its columns as sold) with the count
    sold from it (sold, i.e. its remaining taken down, before it is yielded; the caller moves
    its blocks before the next one is locked). Raises InsufficientCredits, having written
    nothing, if they cannot cover it.

    The common case, the cheapest listing covering it all, is ONE statement: a conditional,
    relative UPDATE of that listing's stock (the listing's row lock taken first, as
    `listings_to_buy_from` would take it). If another purchase sold it down meanwhile, the
    condition, checked again on the stock's row as that purchase committed it, fails: 0 rows,
    and the general path runs."""
    # the listing locked FOR UPDATE before its stock is written: it waits for the
    # one-statement purchases in flight, which hold the listing FOR KEY SHARE and its lanes
    # (store/hot_listing.py), instead of taking the blocks they hold while they wait for the
    # stock's row at their end
    cheapest = _cheapest_open().limit(1).with_for_update(of=Listing).scalar_subquery()
    # a Core UPDATE, RETURNING the listing as a row: the ORM's UPDATE returning an entity cost
    # a fifth of an offset's Python time
    covering = session.execute(
        update(_STOCK).where(_STOCK.c.listing_id == cheapest, _STOCK.c.status == "open",
                             _STOCK.c.remaining >= quantity,
                             _LISTING.c.id == _STOCK.c.listing_id)
        .values(remaining=_STOCK.c.remaining - quantity,
                status=case((_STOCK.c.remaining == quantity, "sold_out"), else_="open"))
        .returning(*_LISTING.c)).first()
    if covering is not None:
        yield covering, quantity
        return
    needed = quantity
    for listing in listings_to_buy_from(session, quantity):
        count = min(needed, listing.stock.remaining)
        sell_from_listing(session, listing, count)
        yield listing, count
        needed -= count


def sell_from_listing(session: Session, listing: Listing, count: int) -> None:
    """Take `count` off an open listing's remaining (its stock). Relative and conditional: a
    purchase that missed the listing's lock cannot overwrite another's, and
    ck_listing_remaining refuses an oversell instead of letting remaining go below zero."""
    changed = session.execute(
        update(ListingStock).where(ListingStock.listing_id == listing.id,
                                   ListingStock.status == "open")
        .values(remaining=ListingStock.remaining - count,
                status=case((ListingStock.remaining == count, "sold_out"), else_="open"))
        .returning(ListingStock.remaining, ListingStock.status)
        .execution_options(synchronize_session=False)).first()
    if changed is None:
        raise ListingNotOpen(f"listing {listing.id} was sold out or cancelled meanwhile")
    set_committed_value(listing.stock, "remaining", changed.remaining)
    set_committed_value(listing.stock, "status", changed.status)


def cancel(session: Session, listing: Listing) -> None:
    """Close an open listing, once (conditional update, row count checked)."""
    changed = session.execute(
        update(ListingStock).where(ListingStock.listing_id == listing.id,
                                   ListingStock.status == "open")
        .values(status="cancelled", remaining=0)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise ListingNotOpen(f"listing {listing.id} is no longer open", field="listing_id")
    set_committed_value(listing.stock, "status", "cancelled")
    set_committed_value(listing.stock, "remaining", 0)


def retired_for_event(session: Session, event_id: str) -> int:
    return session.exec(select(func.coalesce(func.sum(Retirement.quantity), 0))
                        .where(Retirement.event_id == event_id)).one()


def lock_event(session: Session, event_id: str) -> LargeEvent | None:
    """The event's row lock: offsets and post-event filings of one event queue behind it, so a
    default offset reads what is retired only after any offset ahead of it committed."""
    return session.exec(select(LargeEvent).where(LargeEvent.id == event_id).with_for_update()
                        .execution_options(populate_existing=True)).first()


_EVENT = LargeEvent.__table__
# The event (locked) and the user's account, for an offset by the general path (the one-statement
# purchase, store/hot_listing.py, reads and locks them itself). SQL text, not a Core select:
# building and compiling-from-cache that select cost more of an offset's Python time than the
# statement's round trip.
_OFFSET_CONTEXT = """
SELECT {event}, a.id AS account_id
FROM large_event e
LEFT JOIN holding_account a ON a.owner_user_id = %(user_id)s
WHERE e.id = %(event_id)s FOR {mode} OF e"""
# the driver's SQL, run by the driver (block_writes.driver_rows): through SQLAlchemy's result
# handling it cost an offset more Python (issue 15)
_CONTEXT = {shared: _OFFSET_CONTEXT.format(
    event=", ".join(f'e."{c.name}"' for c in _EVENT.c), mode="KEY SHARE" if shared else "UPDATE")
    for shared in (True, False)}
_EVENT_KEYS = tuple(column.key for column in _EVENT.c)


def offset_context(session: Session, event_id: str, user_id: str, *, shared: bool
                   ) -> tuple[LargeEvent | None, str | None]:
    """`lock_event` and the user's holding account (not locked; an account never changes once
    opened), in one statement of table columns (no entities tracked by the session): (the
    event, or None; the user's account id, or None). The event comes back as a detached
    LargeEvent holding the row's values. `shared`: FOR KEY SHARE instead of FOR UPDATE, for an
    offset that does not read what is retired (an explicit quantity): such offsets do not
    queue behind one another, yet each still waits for, and holds off, any FOR UPDATE holder
    (a default offset reading the event's retirements, a filing)."""
    # on the session's connection: nothing the unit of work stages is an event or an account
    rows = driver_rows(session, _CONTEXT[shared], {"event_id": event_id, "user_id": user_id})
    if not rows:
        return None, None
    row = rows[0]
    return LargeEvent(**dict(zip(_EVENT_KEYS, row[:-1]))), row[-1]


def latest_accounting(session: Session, event_id: str) -> EventAccounting | None:
    return session.exec(select(EventAccounting).where(EventAccounting.event_id == event_id)
                        .order_by(EventAccounting.revision.desc())).first()


_READ_EVENT = "SELECT {} FROM large_event e WHERE e.id = %(event_id)s".format(
    ", ".join(f'e."{c.name}"' for c in _EVENT.c))


def read_event(session: Session, event_id: str) -> LargeEvent | None:
    """The event, read (not locked), as a detached LargeEvent holding the row's values."""
    rows = driver_rows(session, _READ_EVENT, {"event_id": event_id})
    return LargeEvent(**dict(zip(_EVENT_KEYS, rows[0]))) if rows else None
