"""The registry's tables. Blocks and audit entries are append-only (a block is only ever closed)."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow

from . import constraints  # noqa: F401 - registers what each named constraint means to a user


class CreditsTable(SQLModel, registry=registry()):
    """credits' own tables: their own metadata, so names never clash with another service's
    tables when several services are imported in one process (tests)."""


def new_id() -> str:
    return str(uuid.uuid4())


def _when() -> datetime:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class HoldingAccount(CreditsTable, table=True):
    """A registry account that can hold credits; one per registered user, opened by event."""

    __tablename__ = "holding_account"

    id: str = Field(default_factory=new_id, primary_key=True)
    owner_user_id: str = Field(unique=True)
    owner_username: str = Field(index=True)  # transfers name their receiver by username
    kind: str  # person | organisation | system
    opened_at: datetime = _when()
    opened_by_event: str  # the UserRegistered event id, for the audit trail


class Project(CreditsTable, table=True):
    """What the registry knows of a forestry project, from its MonitoringVerified events."""

    __tablename__ = "registry_project"

    id: str = Field(primary_key=True)  # verification's project id
    project_number: int = Field(unique=True)
    name: str
    kind: str
    county: str
    owner_user_id: str


class Issuance(CreditsTable, table=True):
    __tablename__ = "issuance"
    __table_args__ = (
        # a monitoring report's reductions become credits once, whatever verification publishes
        sa.UniqueConstraint("monitoring_report_id", name="uq_issuance_monitoring_report"),
        # under 1 t verified issues nothing (0 + 0, still recorded so verification hears back)
        sa.CheckConstraint("owner_quantity >= 0 AND buffer_quantity >= 0",
                           name="ck_issuance_quantities"),
        # the serials reserved are exactly the credits issued, no more, no fewer
        sa.CheckConstraint("serial_first >= 1 AND serial_last = serial_first + owner_quantity"
                           " + buffer_quantity - 1", name="ck_issuance_serials"),
    )

    id: str = Field(primary_key=True)  # issuance_id: one issuance per verified monitoring report
    project_id: str = Field(index=True)
    vintage: int
    monitoring_report_id: str
    verification_id: str
    verifier_user_id: str
    period_start: date
    period_end: date
    verified_tco2e: Decimal = Field(sa_type=sa.Numeric(18, 3))
    buffer_pct: Decimal = Field(sa_type=sa.Numeric(5, 2))
    owner_account_id: str
    owner_quantity: int
    buffer_quantity: int
    serial_first: int
    serial_last: int
    issued_at: datetime = _when()
    caused_by_event: str


class SerialCounter(CreditsTable, table=True):
    """The next serial number per (project, vintage): serials continue across issuances."""

    __tablename__ = "serial_counter"
    # serials start at 1; a counter below would hand out serials a block cannot have
    __table_args__ = (sa.CheckConstraint("next_serial >= 1", name="ck_serial_counter_next"),)

    project_id: str = Field(primary_key=True)
    vintage: int = Field(primary_key=True)
    next_serial: int


class Block(CreditsTable, table=True):
    """A serial range in one account. Never edited except to close it (superseded or retired)."""

    __tablename__ = "serial_block"
    __table_args__ = (
        # No serial in two live blocks: a forgotten lock (two debits of one block) is refused
        # here instead of minting credits. Superseded blocks are history and may overlap.
        # Cancelled blocks (a loss compensated, migration 0007) are final like retired ones.
        ExcludeConstraint(("project_id", "="), ("vintage", "="),
                          (sa.text("int8range(\"first\", \"last\", '[]')"), "&&"),
                          name="ex_block_live_serials", using="gist",
                          where=sa.text("status IN ('active', 'retired', 'cancelled')")),
        # a block is a non-empty range of positive serials
        sa.CheckConstraint('"first" >= 1 AND "first" <= "last"', name="ck_block_range"),
        sa.CheckConstraint("status IN ('active', 'retired', 'superseded', 'cancelled')",
                           name="ck_block_status"),
        # cancelled blocks, and only they, compensate a loss (the loss's lineage lists them)
        sa.CheckConstraint("(status = 'cancelled') = (compensation_id IS NOT NULL)",
                           name="ck_block_compensation"),
        sa.ForeignKeyConstraint(["compensation_id"], ["buffer_compensation.loss_id"],
                                name="fk_block_compensation"),
        # every closed block names the audit entry that closed it, and only closed ones do
        sa.CheckConstraint("(status = 'active') = (closed_by IS NULL)", name="ck_block_closed"),
        # retired blocks, and only they, belong to a retirement (its certificate lists them)
        sa.CheckConstraint("(status = 'retired') = (retirement_id IS NOT NULL)",
                           name="ck_block_retirement"),
        sa.ForeignKeyConstraint(["parent_block_id"], ["serial_block.id"],
                                name="serial_block_parent_block_id_fkey"),
        sa.ForeignKeyConstraint(["issuance_id"], ["issuance.id"],
                                name="serial_block_issuance_id_fkey"),
        # credits sit in an open account, and a reservation in a listing that exists
        sa.ForeignKeyConstraint(["account_id"], ["holding_account.id"], name="fk_block_account"),
        sa.ForeignKeyConstraint(["listing_id"], ["listing.id"], name="fk_block_listing"),
        # Partial where every query of them is (issue 15): a closed block version gets no
        # entry, so a movement's closing UPDATE (never HOT: status is in predicates) and its
        # retired parts write fewer index entries, and the spendable lookup reads live blocks
        # only, not the account's whole history.
        # by serial: the public search (current blocks) and a serial's lineage, which reads
        # superseded blocks too, so not partial (partial, a city's lineage p99 went 12.7 -> 31.1 ms)
        sa.Index("ix_serial_block_serials", "project_number", "vintage", "first", "last"),
        # an account's live blocks (holdings, its debits' spendable blocks)
        sa.Index("ix_serial_block_account_id", "account_id",
                 postgresql_where=sa.text("status = 'active'")),
        # a listing's live blocks (every purchase locks them; each leaves a superseded part
        # under the listing's id, which no query looks up by it)
        sa.Index("ix_serial_block_listing_id", "listing_id",
                 postgresql_where=sa.text("status = 'active'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(index=True)
    project_number: int
    vintage: int
    first: int
    last: int
    account_id: str  # indexed for live blocks only (__table_args__)
    # active | retired | superseded; it leaves active once, by a conditional update (blocks.close)
    status: str = "active"
    parent_block_id: int | None = None
    issuance_id: str
    listing_id: str | None = None  # reserved for this listing (indexed: __table_args__)
    retirement_id: str | None = None
    compensation_id: str | None = None  # the loss whose compensation cancelled it
    created_by: str  # the audit entry (movement) that created it
    closed_by: str | None = None  # the audit entry that superseded or retired it
    created_at: datetime = _when()

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1


class BufferCompensation(CreditsTable, table=True):
    """One verified loss compensated by cancelling credits (domain/compensation.py): once per
    loss. Written once, never updated; the cancelled blocks name it."""

    __tablename__ = "buffer_compensation"
    __table_args__ = (
        sa.CheckConstraint("loss_credits >= 0 AND required >= 0 AND required <= loss_credits "
                           "AND from_pool >= 0 AND from_developer >= 0 AND shortfall >= 0 AND "
                           "from_pool + from_developer + shortfall = required",
                           name="ck_buffer_compensation_split"),
        sa.CheckConstraint("verified_tco2e > 0", name="ck_buffer_compensation_loss"),
    )

    loss_id: str = Field(primary_key=True)  # verification's loss event: one compensation each
    project_id: str = Field(index=True)
    cause: str
    occurred_on: date
    verified_tco2e: Decimal = Field(sa_type=sa.Numeric(20, 4))
    monitoring_report_id: str | None = None  # a reversal's report
    owner_user_id: str
    loss_credits: int  # the loss in whole credits (rounded up)
    required: int  # loss_credits, capped at what the project was ever issued, less earlier ones
    from_pool: int
    from_developer: int
    shortfall: int  # what neither could cover: recorded, never a negative balance
    compensated_at: datetime = _when()
    caused_by_event: str
    entry_id: str  # the audit entry of the cancellation


class AuditPending(CreditsTable, table=True):
    """A committed movement not chained yet: movements insert here, with no shared lock, and the
    sequencer (store/audit.py) moves them into audit_entry, in stamp order, once committed."""

    __tablename__ = "audit_pending"

    # drawn when the movement writes its journal, after it took all its locks: a movement that
    # waited for another's locks or read its effects draws a later stamp
    stamp: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.Identity(always=True), primary_key=True))
    entry_id: str = Field(unique=True)
    kind: str
    body: str = Field(sa_type=sa.Text)  # canonical JSON of {entry_id, kind, recorded_at, details}


class AuditEntry(CreditsTable, table=True):
    """One registry movement, chained: hash = sha256(prev_hash + canonical JSON of body)."""

    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True)  # head + 1 under the sequencer's lock: one entry per seq
    entry_id: str = Field(unique=True)
    kind: str  # issue | split | transfer | retire | reserve | release
    body: str = Field(sa_type=sa.Text)  # canonical JSON of {entry_id, kind, recorded_at, details}
    prev_hash: str
    hash: str


class AuditHead(CreditsTable, table=True):
    """The chain's last link. Only the sequencer writes it, comparing last_seq first."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str


class Retirement(CreditsTable, table=True):
    __tablename__ = "retirement"
    # a retirement retires something: its certificate would otherwise certify nothing
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="ck_retirement_quantity"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    account_id: str
    # None: the registry retired from its inclusion pool; indexed for GET /retirements?mine=true
    retired_by_user_id: str | None = Field(default=None, index=True)
    beneficiary: str
    purpose: str
    quantity: int
    report_id: str | None = None
    event_id: str | None = Field(default=None, index=True)
    redemption_id: str | None = Field(default=None, unique=True)
    certificate_id: str
    retired_at: datetime = _when()


class Certificate(CreditsTable, table=True):
    __tablename__ = "certificate"
    __table_args__ = (
        # a retirement's own certificate, once; the certificates of the citizens whose pooled
        # redemptions took kg of it may name it too, one per redemption
        sa.Index("uq_certificate_retirement", "retirement_id", unique=True,
                 postgresql_where=sa.text("redemption_id IS NULL")),
        sa.UniqueConstraint("redemption_id", name="uq_certificate_redemption"),
    )

    id: str = Field(primary_key=True)
    retirement_id: str  # for a pooled redemption: the latest retirement its kg come from
    redemption_id: str | None = None  # a pooled redemption's own certificate
    # canonical JSON of the certified fields, exactly what content_hash covers
    fields: str = Field(sa_type=sa.Text)
    content_hash: str


class FiledReport(CreditsTable, table=True):
    """An enterprise report known from ReportFiled: who may retire against it, and whether it
    is its period's current revision (only that one takes new retirements)."""

    __tablename__ = "filed_report"
    __table_args__ = (
        # revisions of one period may arrive in any order: never two current ones
        sa.Index("uq_filed_report_current", "enterprise_id", "period", unique=True,
                 postgresql_where=sa.text("is_current")),
    )

    id: str = Field(primary_key=True)
    enterprise_id: str
    enterprise_name: str
    period: str
    revision: int
    total_tco2e: Decimal = Field(sa_type=sa.Numeric(18, 3))
    member_user_ids: str = Field(sa_type=sa.Text)  # JSON list
    is_current: bool = True


class Redemption(CreditsTable, table=True):
    """One citizen redemption, settled exactly once (completed or rejected)."""

    __tablename__ = "redemption"
    __table_args__ = (
        # a citizen's points buy at least one credit, and a redemption ends one of two ways
        sa.CheckConstraint("quantity > 0", name="ck_redemption_quantity"),
        sa.CheckConstraint("status IN ('completed', 'rejected')", name="ck_redemption_status"),
    )

    id: str = Field(primary_key=True)  # redemption_id
    user_id: str
    quantity: int
    status: str  # completed | rejected
    reason: str | None = None
    certificate_id: str | None = None
    settled_at: datetime = _when()
