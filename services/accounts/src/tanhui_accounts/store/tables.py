from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow


class AccountsTable(SQLModel, registry=registry()):
    """accounts' own tables: their own metadata, so they never clash with another service's
    tables of the same name when several services are imported in one process (tests)."""


def new_id() -> str:
    return str(uuid.uuid4())


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


class User(AccountsTable, table=True):
    __tablename__ = "user_account"

    id: str = Field(default_factory=new_id, primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str
    role: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class PublishedSigningKey(AccountsTable, table=True):
    """The kids already announced with `SigningKeyPublished`, so each is announced once."""

    __tablename__ = "published_signing_key"

    kid: str = Field(primary_key=True)
    published_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


# --- enterprise carbon accounts ----------------------------------------------------------------

class FactorVersion(AccountsTable, table=True):
    """One published version of an emission factor; never updated, only superseded."""

    __tablename__ = "emission_factor"

    id: int | None = Field(default=None, primary_key=True)
    code: str
    version: str
    name: str
    scope: int
    activity_unit: str
    value: Decimal = Field(sa_type=sa.Numeric(24, 12))
    source: str
    valid_from: date
    valid_to: date | None = None
    components: str | None = None  # JSON of the derivation's inputs, where there is one
    published_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    superseded_at: datetime | None = Field(default=None, sa_type=_ts())


class Enterprise(AccountsTable, table=True):
    __tablename__ = "enterprise"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str
    uscc: str = Field(unique=True)
    county: str
    industry: str
    created_by: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class EnterpriseMember(AccountsTable, table=True):
    __tablename__ = "enterprise_member"

    enterprise_id: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True)


class CarbonReport(AccountsTable, table=True):
    __tablename__ = "carbon_report"

    id: str = Field(default_factory=new_id, primary_key=True)
    enterprise_id: str = Field(index=True)
    period: str
    revision: int
    is_current: bool = True
    supersedes_id: str | None = None
    scope1_tco2e: Decimal = Field(sa_type=sa.Numeric(20, 4))
    scope2_tco2e: Decimal = Field(sa_type=sa.Numeric(20, 4))
    total_tco2e: Decimal = Field(sa_type=sa.Numeric(20, 4))
    filed_by: str
    filed_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class ReportLineRow(AccountsTable, table=True):
    """A report line with a copy of the factor it used: later factor versions never change it."""

    __tablename__ = "report_line"

    id: int | None = Field(default=None, primary_key=True)
    report_id: str = Field(index=True)
    line_no: int
    factor_code: str
    factor_version: str
    factor_value: Decimal = Field(sa_type=sa.Numeric(24, 12))
    factor_unit: str
    factor_source: str
    scope: int
    quantity: Decimal = Field(sa_type=sa.Numeric(24, 6))
    unit: str
    tco2e: Decimal = Field(sa_type=sa.Numeric(20, 4))
    derivation: str


class ReportRetirement(AccountsTable, table=True):
    """Credits retired against a report (from `CreditsRetired`): the report's net emissions."""

    __tablename__ = "report_retirement"

    retirement_id: str = Field(primary_key=True)
    report_id: str = Field(index=True)
    quantity: int
    certificate_id: str
    retired_at: datetime = Field(sa_type=_ts())


# --- personal carbon accounts (碳普惠) ----------------------------------------------------------

class PointsAccount(AccountsTable, table=True):
    __tablename__ = "points_account"

    user_id: str = Field(primary_key=True)
    balance: int = 0
    held: int = 0
    reduction_g: Decimal = Field(default=Decimal(0), sa_type=sa.Numeric(20, 1))


class PointsEntry(AccountsTable, table=True):
    """Append-only: the account's balance is the running sum of these."""

    __tablename__ = "points_entry"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str
    kind: str
    points: int
    balance_after: int
    held_after: int
    trip_id: str | None = None
    redemption_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class GreenTrip(AccountsTable, table=True):
    __tablename__ = "green_trip"

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str
    mode: str
    distance_km: Decimal = Field(sa_type=sa.Numeric(10, 3))
    started_at: datetime = Field(sa_type=_ts())
    ended_at: datetime = Field(sa_type=_ts())
    local_day: date  # the city's calendar day the trip started on, for daily caps
    external_id: str
    recorded_by: str  # the citizen, or the transit operator that fed it
    reduction_g: Decimal = Field(sa_type=sa.Numeric(14, 1))
    points: int
    capped_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class Redemption(AccountsTable, table=True):
    __tablename__ = "redemption"

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(index=True)
    points: int
    quantity: int
    state: str
    reason: str | None = None
    certificate_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    settled_at: datetime | None = Field(default=None, sa_type=_ts())
