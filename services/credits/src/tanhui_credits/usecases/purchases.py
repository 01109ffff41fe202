"""Buying from a listing (issue 14): an enterprise or organizer takes credits from one listing
into its own holding, to retire them later against its report or event (POST /retirements)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tanhui_shared.contracts.events import CreditsPurchased
from tanhui_shared.errors import Conflict, Invalid, NotFound
from tanhui_shared.uow import UnitOfWork

from ..store import blocks as block_moves
from ..store.market import ListingNotOpen, lock_listing, sell_from_listing
from ..store.market_tables import ListingPurchase
from ..store.tables import new_id
from .common import journal, require_account

BUYER_ROLES = ("enterprise", "organizer")  # those who retire against a report or an event


class ListingExhausted(Conflict):
    """The listing is open but has fewer credits left than asked for (another buyer got them)."""

    code = "listing-exhausted"


@dataclass(frozen=True)
class Purchase:
    record: ListingPurchase
    serials: list[str]


def buy_from_listing(uow: UnitOfWork, buyer_user_id: str, listing_id: str,
                     quantity: int) -> Purchase:
    """Move `quantity` credits reserved by the listing into the buyer's holding, serials and
    lineage kept (each moved block names its parent), record the purchase and its total, and
    publish CreditsPurchased. All or nothing: a listing with less left is ListingExhausted,
    one sold out or cancelled ListingNotOpen, both 409 with nothing written.

    The listing's row lock (FOR UPDATE) comes first, as for cancellation: buyers of one listing
    queue there, behind the offsets in flight (which hold it FOR KEY SHARE while they carve its
    lanes, store/hot_listing.py), and each reads what is left only after those ahead of it
    committed. Should a
    path forget that lock, sell_from_listing's conditional, relative update and the check
    ck_listing_remaining (0 <= remaining <= quantity) still refuse an oversell."""
    session = uow.session
    buyer = require_account(session, buyer_user_id)
    listing = lock_listing(session, listing_id)
    if listing is None:
        raise NotFound(f"no listing {listing_id}", field="listing_id", code="listing-not-found")
    if listing.seller_account_id == buyer.id:
        raise Invalid("you cannot buy from your own listing: cancel it to get its credits back",
                      field="listing_id", code="own-listing")
    stock = listing.stock
    if stock.status != "open":
        raise ListingNotOpen(f"listing {listing.id} is {stock.status.replace('_', ' ')}",
                             field="listing_id")
    if stock.remaining < quantity:
        raise ListingExhausted(f"listing {listing.id} has {stock.remaining} credits left, "
                               f"{quantity} asked for", field="quantity",
                               remaining=stock.remaining, requested=quantity)
    purchase_id = new_id()
    moving = block_moves.take(session, journal(uow),
                              block_moves.listed_blocks(session, listing.id), quantity)
    moved = block_moves.reassign(session, journal(uow), moving, buyer.id, kind="transfer",
                                 from_listing_id=listing.id, purchase_id=purchase_id,
                                 actor_user_id=buyer_user_id)
    sell_from_listing(session, listing, quantity)
    total = listing.price_per_tonne * quantity
    record = ListingPurchase(id=purchase_id, listing_id=listing.id, buyer_account_id=buyer.id,
                             buyer_user_id=buyer_user_id,
                             seller_account_id=listing.seller_account_id,
                             seller_user_id=listing.seller_user_id, quantity=quantity,
                             price_per_tonne=listing.price_per_tonne,
                             price_total=Decimal(total), entry_id=moved[0].created_by)
    session.add(record)
    session.flush()
    serials = [block_moves.serial_range(row) for row in
               sorted(moved, key=lambda r: (r.project_number, r.vintage, r.first))]
    uow.emit(CreditsPurchased(
        purchase_id=purchase_id, listing_id=listing.id, buyer_user_id=buyer_user_id,
        seller_user_id=listing.seller_user_id, quantity=quantity,
        price_per_tonne=str(listing.price_per_tonne), price_total=str(record.price_total),
        serial_ranges=serials, purchased_at=record.purchased_at))
    return Purchase(record=record, serials=serials)
