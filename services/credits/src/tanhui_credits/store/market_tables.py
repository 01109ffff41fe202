"""Large events, listings and the payments recorded when an event buys credits from listings."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from tanhui_shared.messaging.outbox import utcnow

from .tables import CreditsTable, new_id


class LargeEvent(CreditsTable, table=True):
    __tablename__ = "large_event"

    id: str = Field(default_factory=new_id, primary_key=True)
    organizer_user_id: str = Field(index=True)
    name: str
    start_date: date
    end_date: date
    venue: str
    attendees: int
    activity: str  # JSON of the activity data as submitted
    estimate: str  # JSON of the estimate lines, with the factor used for each
    total_tco2e: Decimal = Field(sa_type=sa.Numeric(18, 6))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Listing(CreditsTable, table=True):
    """Credits offered for sale; they sit in blocks reserved for it (block.listing_id)."""

    __tablename__ = "listing"

    id: str = Field(default_factory=new_id, primary_key=True)
    seller_account_id: str
    seller_user_id: str
    project_id: str | None = None
    vintage: int | None = None
    quantity: int
    remaining: int  # kept in the same transaction as the blocks it counts
    price_per_tonne: Decimal = Field(sa_type=sa.Numeric(18, 2), index=True)
    status: str = "open"  # open | sold_out
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Payment(CreditsTable, table=True):
    """A purchase recorded (not processed): who pays whom how much, for which credits."""

    __tablename__ = "payment"

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
