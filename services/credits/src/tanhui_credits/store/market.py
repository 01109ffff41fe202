"""Listings (credits reserved for sale) and the queries of event offsets."""
from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import case, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from tanhui_shared.errors import Conflict

from ..domain.serials import InsufficientCredits
from .block_writes import driver_rows
from .market_tables import EventAccounting, LargeEvent, Listing
from .tables import Retirement


class ListingNotOpen(Conflict):
    code = "listing-not-open"


def open_listings(session: Session) -> list[Listing]:
    return list(session.exec(select(Listing).where(Listing.status == "open")
                             .order_by(Listing.price_per_tonne, Listing.id)).all())


def lock_listing(session: Session, listing_id: str) -> Listing | None:
    return session.exec(select(Listing).where(Listing.id == listing_id).with_for_update()).first()


def listings_to_buy_from(session: Session, quantity: int) -> list[Listing]:
    """The cheapest open listings that together cover `quantity`, each locked FOR UPDATE.

    They are locked one by one in (price, id) order, and only as many as the purchase needs:
    concurrent buyers queue in one order (no deadlock) and a buyer never blocks listings it does
    not buy from. Raises InsufficientCredits, having written nothing, if they cannot cover it.
    The common case, the cheapest listing covering it all, takes one statement.
    """
    cheapest = (select(Listing.id).where(Listing.status == "open")
                .order_by(Listing.price_per_tonne, Listing.id).limit(1).scalar_subquery())
    first = session.exec(select(Listing).where(Listing.id == cheapest).with_for_update()
                         .execution_options(populate_existing=True)).first()
    if first is not None and first.status == "open" and first.remaining >= quantity:
        return [first]
    candidates = session.exec(select(Listing.id).where(Listing.status == "open")
                              .order_by(Listing.price_per_tonne, Listing.id)).all()
    listings, available = [], 0
    for listing_id in candidates:
        listing = session.exec(select(Listing).where(Listing.id == listing_id)
                               .with_for_update().execution_options(populate_existing=True)).one()
        if listing.status != "open":
            continue  # sold out or cancelled by someone ahead of us in the queue
        listings.append(listing)
        available += listing.remaining
        if available >= quantity:
            return listings
    raise InsufficientCredits(quantity, available)


def sell_cheapest(session: Session, quantity: int) -> Iterator[tuple[Listing, int]]:
    """Sell `quantity` from the cheapest open listings: yields each listing (an entity, or in
    the common case a row of its columns as sold) with the count
    sold from it (sold, i.e. its remaining taken down, before it is yielded; the caller moves
    its blocks before the next one is locked). Raises InsufficientCredits, having written
    nothing, if they cannot cover it.

    The common case, the cheapest listing covering it all, is ONE statement: a conditional,
    relative UPDATE of that listing (its row lock, taken as `listings_to_buy_from` would take
    it first). If another purchase sold it down meanwhile, the condition, checked again on the
    row as that purchase committed it, fails: 0 rows, and the general path runs."""
    # locked FOR UPDATE before it is written (a plain UPDATE would take a lock purchases' FOR
    # KEY SHARE lets through): it waits for the one-statement purchases in flight, which hold
    # its lanes (store/hot_listing.py), instead of taking the blocks they hold while they wait
    # for it at their end
    cheapest = (select(Listing.id).where(Listing.status == "open")
                .order_by(Listing.price_per_tonne, Listing.id).limit(1).with_for_update()
                .scalar_subquery())
    # a Core UPDATE of the table, RETURNING the listing as a row: the ORM's UPDATE returning
    # an entity cost a fifth of an offset's Python time
    table = Listing.__table__
    covering = session.execute(
        update(table).where(table.c.id == cheapest, table.c.status == "open",
                            table.c.remaining >= quantity)
        .values(remaining=table.c.remaining - quantity,
                status=case((table.c.remaining == quantity, "sold_out"), else_="open"))
        .returning(*table.c)).first()
    if covering is not None:
        yield covering, quantity
        return
    needed = quantity
    for listing in listings_to_buy_from(session, quantity):
        count = min(needed, listing.remaining)
        sell_from_listing(session, listing, count)
        yield listing, count
        needed -= count


def sell_from_listing(session: Session, listing: Listing, count: int) -> None:
    """Take `count` off an open listing's remaining. Relative and conditional: a purchase that
    missed the listing's lock cannot overwrite another's, and ck_listing_remaining refuses an
    oversell instead of letting remaining go below zero."""
    changed = session.execute(
        update(Listing).where(Listing.id == listing.id, Listing.status == "open")
        .values(remaining=Listing.remaining - count,
                status=case((Listing.remaining == count, "sold_out"), else_="open"))
        .returning(Listing.remaining, Listing.status)
        .execution_options(synchronize_session=False)).first()
    if changed is None:
        raise ListingNotOpen(f"listing {listing.id} was sold out or cancelled meanwhile")
    set_committed_value(listing, "remaining", changed.remaining)
    set_committed_value(listing, "status", changed.status)


def cancel(session: Session, listing: Listing) -> None:
    """Close an open listing, once (conditional update, row count checked)."""
    changed = session.execute(
        update(Listing).where(Listing.id == listing.id, Listing.status == "open")
        .values(status="cancelled", remaining=0)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise ListingNotOpen(f"listing {listing.id} is no longer open", field="listing_id")
    set_committed_value(listing, "status", "cancelled")
    set_committed_value(listing, "remaining", 0)


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
