"""accounts' table models: the one schema source (Alembic's target; a test checks a migrated database
agrees). Every constraint is named, and store/constraints.py says what each one means to a user."""
from __future__ import annotations

import os
import time
import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow

from . import constraints  # noqa: F401 - registers what each named constraint means to a user


class AccountsTable(SQLModel, registry=registry()):
    """accounts' own tables: their own metadata, so they never clash with another service's
    tables of the same name when several services are imported in one process (tests)."""


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as text, like new_id's, from one read of the OS's random
    source: uuid.uuid4() one by one took a tenth of a 10,000-trip batch."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # RFC 4122 variant
    text = raw.hex()
    return [f"{text[i:i + 8]}-{text[i + 8:i + 12]}-{text[i + 12:i + 16]}-{text[i + 16:i + 20]}-"
            f"{text[i + 20:i + 32]}" for i in range(0, 32 * count, 32)]


def new_ordered_ids(count: int) -> list[str]:
    """`count` version 7 UUIDs (RFC 9562) as text, in ascending order: the Unix time in ms, a
    26-bit counter (method 1: rand_a and the top of rand_b) and 48 random bits. A table keyed by
    them takes a batch's rows at its index's right edge; v4 ids scattered 10,000 inserts over the
    whole primary key, which cost more than the rest of a feed's trip COPY."""
    if count >= 1 << 26:
        raise ValueError("at most 2**26 ordered ids at once")
    millis = f"{time.time_ns() // 1_000_000:012x}"
    head = f"{millis[:8]}-{millis[8:]}-7"
    tails = os.urandom(6 * count).hex()
    return [head + counter + tails[12 * i:12 * i + 12]
            for i, counter in enumerate(_counters(count))]


# The counters' text, formatted once (3 of the 4 us an id took): up to a large feed's size
_COUNTERS_KEPT = 1 << 16
_counter_texts: list[str] = []


def _counters(count: int) -> list[str]:
    """The ids' middle parts for counters 0 .. count - 1 ("000-8000-", "000-8001-", ...)."""
    global _counter_texts
    kept = _counter_texts  # replaced whole, never extended in place: threads share it
    if len(kept) < min(count, _COUNTERS_KEPT):
        kept = _counter_texts = _counter_text(range(min(count, _COUNTERS_KEPT)))
    return kept[:count] if count <= len(kept) else kept + _counter_text(range(len(kept), count))


def _counter_text(counters: range) -> list[str]:
    return [f"{i >> 14:03x}-{0x8000 | i & 0x3FFF:04x}-" for i in counters]


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


class User(AccountsTable, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        # one login per name, even when two registrations race
        sa.UniqueConstraint("username", name="uq_user_account_username"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    username: str
    password_hash: str
    role: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class PublishedSigningKey(AccountsTable, table=True):
    """The kids already announced with `SigningKeyPublished`, so each is announced once, and
    when an operator retired one (`SigningKeyRetired`): never published or honoured again."""

    __tablename__ = "published_signing_key"

    kid: str = Field(primary_key=True)
    published_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    retired_at: datetime | None = Field(default=None, sa_type=_ts())


# --- enterprise carbon accounts ----------------------------------------------------------------

class FactorVersion(AccountsTable, table=True):
    """One published version of an emission factor (tanhui_shared.methodology.EmissionFactor).
    Its values never change: a correction supersedes it, and a version for later periods
    closes its validity (valid_to) the day before it starts."""

    __tablename__ = "emission_factor"
    __table_args__ = (
        # a published version is never rewritten: new values need a new version
        sa.UniqueConstraint("code", "version", name="uq_emission_factor_code_version"),
        # valid_to is the last valid day (inclusive), never before the first
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name="ck_emission_factor_validity"),
        # reports are scope 1 and 2 inventories; the categories are the MEE 2019 guide's
        sa.CheckConstraint("scope IN (1, 2)", name="ck_emission_factor_scope"),
        sa.CheckConstraint("category IN ('energy', 'travel', 'accommodation', 'catering', "
                           "'materials', 'waste')", name="ck_emission_factor_category"),
        # at most one live version of a code on any day, so a period's version is never a guess
        postgresql.ExcludeConstraint(
            ("code", "="), (sa.text("daterange(valid_from, valid_to, '[]')"), "&&"),
            name="ex_emission_factor_one_live_version", using="gist",
            where=sa.text("superseded_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str
    version: str
    name: str
    category: str
    scope: int
    activity_unit: str
    value: Decimal = Field(sa_type=sa.Numeric(24, 12))
    source: str
    valid_from: date
    valid_to: date | None = None
    components: str | None = Field(default=None, sa_type=sa.Text)  # JSON of the derivation's inputs, where there is one
    published_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    superseded_at: datetime | None = Field(default=None, sa_type=_ts())


class Enterprise(AccountsTable, table=True):
    """An enterprise as its registrant claims it: its claim to the USCC is pending until the
    regulator confirms or rejects it (domain/claims.py); only a confirmed one is disclosed."""

    __tablename__ = "enterprise"
    __table_args__ = (
        # the code identifies the legal entity: one confirmed enterprise each, however many
        # claim it (the others queue), even when two regulators confirm two claims at once
        sa.Index("uq_enterprise_confirmed_uscc", "uscc", unique=True,
                 postgresql_where=sa.text("claim_status = 'confirmed'")),
        # one open claim of a code per registrant: asking twice does not jump the queue
        sa.Index("uq_enterprise_open_claim", "uscc", "created_by", unique=True,
                 postgresql_where=sa.text("claim_status IN ('pending', 'confirmed')")),
        sa.CheckConstraint("claim_status IN ('pending', 'confirmed', 'rejected')",
                           name="ck_enterprise_claim_status"),
        # a decision records when, by whom and why; a pending claim has none of these
        sa.CheckConstraint(
            "(claim_status = 'pending' AND decided_at IS NULL AND decided_by IS NULL "
            "AND decision_reason IS NULL) OR (claim_status <> 'pending' AND decided_at IS NOT "
            "NULL AND decided_by IS NOT NULL AND decision_reason IS NOT NULL)",
            name="ck_enterprise_claim_decision"),
        # every claim of a code (the rivals a confirmation rejects), and the regulator's queue
        sa.Index("ix_enterprise_uscc", "uscc"),
        sa.Index("ix_enterprise_claim_queue", "claim_status", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str
    uscc: str = Field(max_length=18)
    county: str
    industry: str
    created_by: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    claim_status: str = "pending"
    decided_at: datetime | None = Field(default=None, sa_type=_ts())
    decided_by: str | None = None  # the regulator's user id
    decision_reason: str | None = Field(default=None, sa_type=sa.Text)


class EnterpriseMember(AccountsTable, table=True):
    __tablename__ = "enterprise_member"
    __table_args__ = (
        # a user's own enterprises (GET /enterprises); the key leads with the enterprise
        sa.Index("ix_enterprise_member_user", "user_id"),
    )

    enterprise_id: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True)


class CarbonReport(AccountsTable, table=True):
    __tablename__ = "carbon_report"
    __table_args__ = (
        # one revision number per period: two concurrent filings cannot both be revision 1
        sa.UniqueConstraint("enterprise_id", "period", "revision", name="uq_carbon_report_revision"),
        # disclosures and credits' retirements read "the" report of a period: never two
        sa.Index("uq_carbon_report_current", "enterprise_id", "period", unique=True,
                 postgresql_where=sa.text("is_current")),
    )

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
    derivation: str = Field(sa_type=sa.Text)


class ReportRetirement(AccountsTable, table=True):
    """Credits retired against a report revision (from `CreditsRetired`). Disclosures count them
    for the revision's enterprise and period, so they follow the period's corrections."""

    __tablename__ = "report_retirement"
    __table_args__ = (
        # counted in a disclosure only through its report: one accounts never filed is refused
        sa.ForeignKeyConstraint(["report_id"], ["carbon_report.id"],
                                name="fk_report_retirement_report"),
    )

    retirement_id: str = Field(primary_key=True)
    report_id: str = Field(index=True)
    quantity: int
    certificate_id: str
    retired_at: datetime = Field(sa_type=_ts())


# --- personal carbon accounts (碳普惠) ----------------------------------------------------------

class PointsAccount(AccountsTable, table=True):
    __tablename__ = "points_account"
    __table_args__ = (
        # the database refuses what the ledger must never show, whichever path forgot its lock
        sa.CheckConstraint("balance >= 0", name="ck_points_account_balance_not_negative"),
        sa.CheckConstraint("held >= 0 AND held <= balance",
                           name="ck_points_account_held_within_balance"),
        # half of each page left free: a feed updates every account it names once, and each new
        # version then fits beside the old one (a HOT update: no new key entry); on full pages 1
        # in 40 of the bench's feeds' updates was, 6 in 10 now (a city's feed, spread over more
        # pages, leaves more room on each)
        {"postgresql_with": {"fillfactor": 50}},
    )

    user_id: str = Field(primary_key=True)
    balance: int = Field(default=0, sa_type=sa.BigInteger)
    held: int = Field(default=0, sa_type=sa.BigInteger)
    reduction_g: Decimal = Field(default=Decimal(0), sa_type=sa.Numeric(20, 1))


class PointsEntry(AccountsTable, table=True):
    """Append-only: the account's balance is the running sum of these."""

    __tablename__ = "points_entry"
    __table_args__ = (
        # an entry moves points; its direction is its kind
        sa.CheckConstraint("points > 0", name="ck_points_entry_points_positive"),
        # the running figures an entry records obey the account's own ranges
        sa.CheckConstraint("balance_after >= 0", name="ck_points_entry_balance_after_not_negative"),
        sa.CheckConstraint("held_after >= 0 AND held_after <= balance_after",
                           name="ck_points_entry_held_after_within_balance"),
        # a citizen's ledger page, newest first
        sa.Index("ix_points_entry_user", "user_id", "id"),
        # a redemption is held, and settled or released, at most once each...
        sa.Index("uq_points_entry_redemption_kind", "redemption_id", "kind", unique=True,
                 postgresql_where=sa.text("redemption_id IS NOT NULL")),
        # ...and never both settled and released
        sa.Index("uq_points_entry_redemption_outcome", "redemption_id", unique=True,
                 postgresql_where=sa.text("kind IN ('settle', 'release')")),
        # an expiry names the citizen's expired total it was computed from: two runs that read
        # the same ledger (a lock forgotten, a job started twice) cannot both write theirs
        sa.Index("uq_points_entry_expiry", "user_id", "expired_before", unique=True,
                 postgresql_where=sa.text("kind = 'expire'")),
        sa.CheckConstraint("(kind = 'expire') = (expired_before IS NOT NULL)",
                           name="ck_points_entry_expiry_key"),
        # a citizen's earnings oldest first (FIFO expiry)
        sa.Index("ix_points_entry_earned", "user_id", "created_at",
                 postgresql_where=sa.text("kind = 'earn'")),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    user_id: str
    kind: str
    points: int = Field(sa_type=sa.BigInteger)
    balance_after: int = Field(sa_type=sa.BigInteger)
    held_after: int = Field(sa_type=sa.BigInteger)
    trip_id: str | None = None
    redemption_id: str | None = None
    expired_before: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class GreenTrip(AccountsTable, table=True):
    __tablename__ = "green_trip"
    __table_args__ = (
        # one trip per (citizen, external id): a card tap fed twice at once is recorded once
        sa.UniqueConstraint("user_id", "external_id", name="uq_green_trip_external_id"),
        # a citizen's trips newest first (the journeys page reads a page of them, not all of a
        # heavy traveller's years), and around a time window (overlap checks). A feed pays a
        # third of its trip inserts' server time for it (issue 15's ledger helper): kept.
        sa.Index("ix_green_trip_user_time", "user_id", "started_at"),
        # domain/travel.py's MAX_TRIP_DURATION: the overlap reads start that long before a claim
        sa.CheckConstraint("ended_at <= started_at + interval '12 hours'",
                           name="ck_green_trip_duration_bounded"),
    )

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
    __table_args__ = (
        sa.CheckConstraint("points > 0", name="ck_redemption_points_positive"),
        # whole credits (tCO2e) for redemptions made before pooling, else NULL
        sa.CheckConstraint("quantity > 0", name="ck_redemption_quantity_positive"),
        # the share of the city's pooled retirement the points buy: whole 10 kg units
        sa.CheckConstraint("kg > 0 AND kg % 10 = 0", name="ck_redemption_kg_units"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(index=True)
    points: int = Field(sa_type=sa.BigInteger)
    quantity: int | None = None
    kg: int = Field(sa_type=sa.BigInteger)
    state: str
    reason: str | None = None
    certificate_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    settled_at: datetime | None = Field(default=None, sa_type=_ts())


class DailyPoints(AccountsTable, table=True):
    """Points a citizen earned on one of the city's calendar days in one cap group (a mode, or
    "all" for the day's total), and the cap in force: updated in each trip's own transaction."""

    __tablename__ = "daily_points"
    __table_args__ = (
        # a day's cap holds however many trips race for its last points, with or without locks
        sa.CheckConstraint("earned >= 0 AND earned <= cap", name="ck_daily_points_within_cap"),
    )

    user_id: str = Field(primary_key=True)
    local_day: date = Field(primary_key=True)
    cap_group: str = Field(primary_key=True)
    earned: int
    cap: int
