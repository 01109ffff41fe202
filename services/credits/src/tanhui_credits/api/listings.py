"""Listings: credits reserved for sale, their cancellation, and purchases from them."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from tanhui_shared.errors import Invalid
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser, Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.quantities import WholeQuantity

from ..store.lists import buyer_purchases, seller_listings
from ..store.market import open_listings
from ..store.market_tables import Listing, ListingPurchase
from ..usecases.market import cancel_listing, create_listing
from ..usecases.purchases import BUYER_ROLES, Purchase, buy_from_listing
from .pages import Limit, Offset, Viewer, only_mine, page

router = APIRouter(prefix="/api/v1", tags=["listings"])
Buyer = Annotated[Principal, Depends(require_role(*BUYER_ROLES))]
ListingStatus = Literal["open", "cancelled", "sold_out"]


class ListingCreate(ApiModel):
    quantity: WholeQuantity
    price_per_tonne: Annotated[Decimal, Field(gt=0, le=Decimal("1e7"), max_digits=11,
                                              decimal_places=2, allow_inf_nan=False)]
    project_id: str | None = Field(default=None, max_length=200)
    vintage: int | None = Field(default=None, ge=1000, le=9999)


class PurchaseRequest(ApiModel):
    quantity: WholeQuantity


def listing_view(listing: Listing) -> dict[str, Any]:
    return {"id": listing.id, "seller_user_id": listing.seller_user_id,
            "project_id": listing.project_id, "vintage": listing.vintage,
            "quantity": listing.quantity, "remaining": listing.stock.remaining,
            "price_per_tonne": str(listing.price_per_tonne), "status": listing.stock.status,
            "created_at": listing.created_at}


def purchase_view(record: ListingPurchase, serials: list[str] | None = None) -> dict[str, Any]:
    view = {"purchase_id": record.id, "listing_id": record.listing_id,
            "quantity": record.quantity, "price_per_tonne": str(record.price_per_tonne),
            "price_total": str(record.price_total), "seller_user_id": record.seller_user_id,
            "purchased_at": record.purchased_at}
    return view if serials is None else {**view, "serials": serials}


@router.post("/listings", status_code=201)
def list_credits(body: ListingCreate, principal: CurrentUser, session: SessionDep,
                 idem: Idempotency):
    return idem.execute(session, principal.user_id, lambda uow: listing_view(create_listing(
        uow, principal.user_id, body.quantity, body.price_per_tonne, project_id=body.project_id,
        vintage=body.vintage)), status_code=201)


@router.post("/listings/{listing_id}/cancel")
def cancel(listing_id: str, principal: CurrentUser, session: SessionDep, idem: Idempotency):
    """The seller withdraws an open listing; what it has left returns to the seller's holding.
    Replaying the same Idempotency-Key answers the first result; cancelling again under a new
    key, or a listing sold out, is 409 listing-not-open."""
    return idem.execute(session, principal.user_id, lambda uow: listing_view(cancel_listing(
        uow, principal.user_id, listing_id)))


@router.post("/listings/{listing_id}/purchases", status_code=201)
def purchase(listing_id: str, body: PurchaseRequest, principal: Buyer, session: SessionDep,
             idem: Idempotency):
    """An enterprise or organizer buys credits from one listing into its own holding (the
    serials keep their lineage), to retire them later with POST /retirements. 409
    listing-exhausted when the listing has fewer left, listing-not-open when it is sold out or
    cancelled; the payment is recorded (price_total), not processed."""
    def buy(uow) -> dict[str, Any]:  # noqa: ANN001
        bought: Purchase = buy_from_listing(uow, principal.user_id, listing_id, body.quantity)
        return purchase_view(bought.record, bought.serials)

    return idem.execute(session, principal.user_id, buy, status_code=201)


@router.get("/listings")
def listings(session: SessionDep, viewer: Viewer, mine: bool = False,
             status: Annotated[ListingStatus | None, Query()] = None, limit: Limit = 50,
             offset: Offset = 0) -> Any:
    """Without `mine`: every open listing, cheapest first, as a plain array (the public market,
    unchanged). With `mine=true`: the caller's own listings in every status (or `status`),
    newest first, as a page {items, total, limit, offset}."""
    if not mine:
        if status is not None:
            raise Invalid("status filters your own listings: add mine=true", field="status",
                          code="status-needs-mine")
        return [listing_view(listing) for listing in open_listings(session)]
    if viewer is None:
        raise Problem(401, "mine=true lists your own listings: a bearer token is required",
                      headers={"WWW-Authenticate": "Bearer"}, code="token-required")
    rows, total = seller_listings(session, viewer.user_id, status, limit, offset)
    return page([listing_view(row) for row in rows], total, limit, offset)


@router.get("/purchases")
def purchases(principal: CurrentUser, session: SessionDep, mine: bool = True, limit: Limit = 50,
              offset: Offset = 0) -> dict[str, Any]:
    """The caller's purchases from listings, newest first."""
    only_mine(mine)
    rows, total = buyer_purchases(session, principal.user_id, limit, offset)
    return page([purchase_view(row) for row in rows], total, limit, offset)
