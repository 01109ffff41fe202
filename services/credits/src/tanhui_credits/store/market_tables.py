"""Large events, listings and the payments recorded when an event buys credits from listings."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, Relationship

from tanhui_shared.messaging.outbox import utcnow

from .tables import CreditsTable, new_id


class LargeEvent(CreditsTable, table=True):
    __tablename__ = "large_event"
    __table_args__ = (
        # an event ends on or after the day it starts (its factors are picked for those days)
        sa.CheckConstraint("end_date >= start_date", name="ck_large_event_dates"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    organizer_user_id: str = Field(index=True)
    name: str
    start_date: date
    end_date: date
    venue: str
    attendees: int
    activity: str = Field(sa_type=sa.Text)  # JSON of the activity data as submitted
    # JSON of the plan's estimate lines, with the factor used for each (the final figure, from
    # actual data filed after the event, is in event_accounting)
    estimate: str = Field(sa_type=sa.Text)
    total_tco2e: Decimal = Field(sa_type=sa.Numeric(18, 6))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Listing(CreditsTable, table=True):
    """Credits offered for sale; they sit in blocks reserved for it (block.listing_id). What is
    left of it, and whether it is open, is its ListingStock."""

    __tablename__ = "listing"
    __table_args__ = (
        # a listing offers something
        sa.CheckConstraint("quantity > 0", name="ck_listing_quantity"),
        # what its stock's quantity references: the stock counts down from this listing's own
        sa.UniqueConstraint("id", "quantity", name="uq_listing_quantity"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    seller_account_id: str
    seller_user_id: str = Field(index=True)  # a seller's own listings (GET /listings?mine=true)
    project_id: str | None = None
    vintage: int | None = None
    quantity: int
    price_per_tonne: Decimal = Field(sa_type=sa.Numeric(18, 2), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    # written with it (create_listing); read joined where a listing is shown or sold
    stock: ListingStock = Relationship(sa_relationship_kwargs={"uselist": False})


class ListingStock(CreditsTable, table=True):
    """What a listing has left and whether it is open: the row every sale from it updates.
    Apart from the listing, which blocks and payments reference (their foreign keys' checks,
    and offsets in flight, hold it FOR KEY SHARE): a row both share-locked and updated carries
    a MultiXact that every read of it resolves (issue 15: 9% of a hot purchase's backend CPU).
    No foreign key references this row."""

    __tablename__ = "listing_stock"
    __table_args__ = (
        # one stock per listing, of that listing's quantity
        sa.ForeignKeyConstraint(["listing_id", "quantity"], ["listing.id", "listing.quantity"],
                                name="fk_listing_stock_listing"),
        # never more than it offered nor less than nothing
        sa.CheckConstraint("remaining >= 0 AND remaining <= quantity", name="ck_listing_remaining"),
        sa.CheckConstraint("status IN ('open', 'sold_out', 'cancelled')", name="ck_listing_status"),
        # open exactly while something is left: sold out and cancelled listings hold nothing
        sa.CheckConstraint("(status = 'open') = (remaining > 0)", name="ck_listing_open"),
    )

    listing_id: str = Field(primary_key=True)
    quantity: int
    remaining: int  # kept in the same transaction as the blocks it counts
    status: str = "open"  # open | sold_out | cancelled


class Payment(CreditsTable, table=True):
    """A purchase recorded (not processed): who pays whom how much, for which credits."""

    __tablename__ = "payment"
    __table_args__ = (
        sa.ForeignKeyConstraint(["listing_id"], ["listing.id"], name="payment_listing_id_fkey"),
        sa.ForeignKeyConstraint(["event_id"], ["large_event.id"], name="payment_event_id_fkey"),
        # a payment is for credits actually bought
        sa.CheckConstraint("quantity > 0", name="ck_payment_quantity"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    listing_id: str = Field(index=True)
    event_id: str = Field(index=True)
    seller_account_id: str
    seller_user_id: str
    buyer_user_id: str
    quantity: int
    price_per_tonne: Decimal = Field(sa_type=sa.Numeric(18, 2))
    amount: Decimal = Field(sa_type=sa.Numeric(20, 2))
    retirement_id: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class EventAccounting(CreditsTable, table=True):
    """The post-event accounting: actual activity data filed after the event and the final
    figure recomputed from it, with every factor used. Append-only: a correction is the next
    revision; the latest revision is the event's final figure."""

    __tablename__ = "event_accounting"
    __table_args__ = (
        sa.ForeignKeyConstraint(["event_id"], ["large_event.id"],
                                name="fk_event_accounting_event"),
        # one revision number per event: two filings racing each other cannot both be "latest"
        sa.UniqueConstraint("event_id", "revision", name="uq_event_accounting_revision"),
        sa.CheckConstraint("revision >= 1", name="ck_event_accounting_revision"),
        sa.CheckConstraint("total_tco2e >= 0", name="ck_event_accounting_total"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    event_id: str
    revision: int
    activity: str = Field(sa_type=sa.Text)  # JSON of the actual activity data as filed
    estimate: str = Field(sa_type=sa.Text)  # JSON of the recomputed lines, with their factors
    total_tco2e: Decimal = Field(sa_type=sa.Numeric(18, 6))
    filed_by_user_id: str
    filed_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class ListingPurchase(CreditsTable, table=True):
    """A buyer took credits from a listing into its own holding (issue 14). Written once with
    the movement it records; the payment is recorded here, not processed."""

    __tablename__ = "listing_purchase"
    __table_args__ = (
        sa.ForeignKeyConstraint(["listing_id"], ["listing.id"], name="fk_listing_purchase_listing"),
        sa.ForeignKeyConstraint(["buyer_account_id"], ["holding_account.id"],
                                name="fk_listing_purchase_buyer"),
        # a purchase buys something, and its total is exactly quantity x price
        sa.CheckConstraint("quantity > 0", name="ck_listing_purchase_quantity"),
        sa.CheckConstraint("price_total = quantity * price_per_tonne",
                           name="ck_listing_purchase_total"),
        # the seller never buys from itself (it would cancel the listing instead)
        sa.CheckConstraint("buyer_account_id <> seller_account_id",
                           name="ck_listing_purchase_parties"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    listing_id: str = Field(index=True)
    buyer_account_id: str
    buyer_user_id: str = Field(index=True)
    seller_account_id: str
    seller_user_id: str
    quantity: int
    price_per_tonne: Decimal = Field(sa_type=sa.Numeric(18, 2))
    price_total: Decimal = Field(sa_type=sa.Numeric(20, 2))
    entry_id: str  # the audit entry of the movement into the buyer's holding
    purchased_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
