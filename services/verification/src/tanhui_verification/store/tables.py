"""verification's tables. The timeline is append-only: rows are inserted, never updated."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow


def new_id() -> str:
    return str(uuid.uuid4())


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


TCO2E = sa.Numeric(20, 4)


class VerificationTable(SQLModel, registry=registry()):
    """verification's own tables: their own metadata, so names never clash with another
    service's tables when several services are imported in one process (tests)."""


class Project(VerificationTable, table=True):
    __tablename__ = "project"

    id: str = Field(default_factory=new_id, primary_key=True)
    project_number: int | None = Field(default=None, unique=True)  # set at registration
    name: str
    kind: str
    county: str
    area_ha: Decimal = Field(sa_type=sa.Numeric(12, 4))
    forest_rights_holder: str
    # unique among active projects: a partial unique index (state <> 'rejected') in migration 0002
    forest_rights_certificate: str
    crediting_start: date
    crediting_years: int
    description: str
    state: str
    developer_user_id: str = Field(index=True)
    developer_username: str
    buffer_pct: Decimal | None = Field(default=None, sa_type=sa.Numeric(5, 2))
    approved_by_user_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    registered_at: datetime | None = Field(default=None, sa_type=_ts())


class TimelineEntry(VerificationTable, table=True):
    """One step of a project's life: a transition, a report, a verification or an issuance."""

    __tablename__ = "project_timeline"

    seq: int | None = Field(default=None, primary_key=True)  # the order of the steps
    project_id: str = Field(index=True)
    step: str  # filed, submitted, changes_requested, registered, rejected, monitoring_reported, ...
    from_state: str | None = None
    to_state: str
    monitoring_report_id: str | None = None
    actor_user_id: str
    actor_username: str
    actor_role: str
    comments: str = ""
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class MonitoringReport(VerificationTable, table=True):
    __tablename__ = "monitoring_report"

    id: str = Field(default_factory=new_id, primary_key=True)
    project_id: str = Field(index=True)
    period_start: date
    period_end: date
    project_sink_tco2e: Decimal = Field(sa_type=TCO2E)
    baseline_sink_tco2e: Decimal = Field(sa_type=TCO2E)
    leakage_tco2e: Decimal = Field(sa_type=TCO2E)
    claim_tco2e: Decimal = Field(sa_type=TCO2E)
    state: str
    submitted_by_user_id: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    # set on verification
    verified_tco2e: Decimal | None = Field(default=None, sa_type=TCO2E)
    issuance_id: str | None = Field(default=None, unique=True)
    # set from CreditsIssued
    issued_quantity: int | None = None
    buffer_quantity: int | None = None
    serial_first: str | None = None
    serial_last: str | None = None
    issued_at: datetime | None = Field(default=None, sa_type=_ts())


class Verification(VerificationTable, table=True):
    """A verifier's decision on a report; one per report (unique), whatever the decision."""

    __tablename__ = "verification"

    id: str = Field(default_factory=new_id, primary_key=True)
    monitoring_report_id: str = Field(unique=True)
    decision: str
    verified_tco2e: Decimal | None = Field(default=None, sa_type=TCO2E)
    comments: str
    verifier_user_id: str
    verifier_username: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class Document(VerificationTable, table=True):
    """A supporting document by its SHA-256, attached to a project or to one of its reports."""

    __tablename__ = "document"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(index=True)
    monitoring_report_id: str | None = Field(default=None, index=True)
    name: str
    sha256: str


class RegistryCounter(VerificationTable, table=True):
    """Gap-free registry numbers: the row is locked, read and bumped in the approval's transaction."""

    __tablename__ = "registry_counter"

    name: str = Field(primary_key=True)
    value: int
