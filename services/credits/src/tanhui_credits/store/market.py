"""Listings (credits reserved for sale) and event offsets (buy cheapest first, then retire)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from ..domain.serials import InsufficientCredits
from . import blocks as block_moves
from .accounts import lock_account
from .audit import Journal
from .market_tables import LargeEvent, Listing, Payment
from .retirements import retire_blocks
from .tables import Certificate, Retirement


def create_listing(session: Session, seller_account_id: str, seller_user_id: str, quantity: int,
                   price_per_tonne: Decimal, project_id: str | None, vintage: int | None
                   ) -> Listing:
    """Reserve the credits for the listing: they move into blocks marked with its id, so no
    transfer or retirement can spend them while it is open. Raises InsufficientCredits."""
    lock_account(session, seller_account_id)
    journal = Journal()
    rows = block_moves.spendable_blocks(session, seller_account_id, project_id, vintage)
    moving = block_moves.take(session, journal, rows, quantity)
    listing = Listing(seller_account_id=seller_account_id, seller_user_id=seller_user_id,
                      project_id=project_id, vintage=vintage, quantity=quantity,
                      remaining=quantity, price_per_tonne=price_per_tonne)
    session.add(listing)
    session.flush()
    block_moves.reassign(session, journal, moving, seller_account_id, kind="reserve",
                         listing_id=listing.id)
    journal.write(session)
    return listing


def open_listings(session: Session) -> list[Listing]:
    return list(session.exec(select(Listing).where(Listing.status == "open")
                             .order_by(Listing.price_per_tonne, Listing.id)).all())


def buy_and_retire(session: Session, event: LargeEvent, buyer_account_id: str, quantity: int
                   ) -> tuple[Certificate, list[Payment]]:
    """Buy `quantity` credits from the cheapest listings and retire them in the event's name.

    Listings are locked FOR UPDATE one by one in (price, id) order, and only as many as the
    purchase needs: concurrent buyers queue in one order (no deadlock) and a buyer never blocks
    listings it does not buy from. Raises InsufficientCredits, writing nothing, if they cannot
    cover it.
    """
    candidates = session.exec(select(Listing.id)
                              .where(Listing.status == "open", Listing.remaining > 0)
                              .order_by(Listing.price_per_tonne, Listing.id)).all()
    listings, available = [], 0
    for listing_id in candidates:
        listing = session.exec(select(Listing).where(Listing.id == listing_id)
                               .with_for_update()).one()
        if listing.status != "open" or listing.remaining == 0:
            continue  # sold out by a buyer ahead of us in the queue
        listings.append(listing)
        available += listing.remaining
        if available >= quantity:
            break
    if available < quantity:
        raise InsufficientCredits(quantity, available)
    journal = Journal()
    bought, purchases = [], []
    needed = quantity
    for listing in listings:
        if needed == 0:
            break
        count = min(needed, listing.remaining)
        moving = block_moves.take(session, journal, block_moves.listed_blocks(session, listing.id),
                                  count)
        bought += block_moves.reassign(session, journal, moving, buyer_account_id,
                                       kind="transfer", from_listing_id=listing.id,
                                       event_id=event.id)
        listing.remaining -= count
        listing.status = "open" if listing.remaining else "sold_out"
        session.add(listing)
        purchases.append((listing, count))
        needed -= count
    certificate = retire_blocks(
        session, journal, bought, account_id=buyer_account_id, beneficiary=event.name,
        purpose=f"carbon neutrality of the large event {event.name!r} ({event.start_date} - "
                f"{event.end_date}, {event.venue})",
        retired_by_user_id=event.organizer_user_id, event_id=event.id)
    payments = [Payment(listing_id=listing.id, event_id=event.id,
                        seller_account_id=listing.seller_account_id,
                        seller_user_id=listing.seller_user_id,
                        buyer_user_id=event.organizer_user_id, quantity=count,
                        price_per_tonne=listing.price_per_tonne,
                        amount=listing.price_per_tonne * count,
                        retirement_id=certificate.retirement_id)
                for listing, count in purchases]
    session.add_all(payments)
    session.flush()
    return certificate, payments


def retired_for_event(session: Session, event_id: str) -> int:
    return session.exec(select(func.coalesce(func.sum(Retirement.quantity), 0))
                        .where(Retirement.event_id == event_id)).one()
