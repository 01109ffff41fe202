"""verification's tables: the one schema source (Alembic's target; a test compares a migrated
database with them). The timeline is append-only: rows are inserted, never updated.

Every invariant the code relies on is also a named constraint here, so that a code path that
forgets a lock or a check is refused by PostgreSQL instead of applied; `constraints.py` says what
each name means to a user. Migrations 0003 and 0004 create the same constraints.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tanhui_shared.messaging.outbox import utcnow

from ..domain.lifecycle import ProjectState, ReportState
from ..domain.losses import ALL_CAUSES, LossState
from ..domain.rules import ProjectKind, Vegetation
from . import constraints  # noqa: F401 - registers the meaning of every constraint below


def new_id() -> str:
    return str(uuid.uuid4())


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


TCO2E = sa.Numeric(20, 4)


class VerificationTable(SQLModel, registry=registry()):
    """verification's own tables: their own metadata, so names never clash with another
    service's tables when several services are imported in one process (tests)."""


class Project(VerificationTable, table=True):
    __tablename__ = "project"
    __table_args__ = (
        # gap-free registry numbers from the counter: each number names one project
        sa.UniqueConstraint("project_number", name="project_project_number_key"),
        # one active project per forest-rights certificate however it is spelled (compared by
        # its normalized key: domain/certificates.py); a rejected or withdrawn project frees it
        sa.Index("ux_project_active_certificate", "forest_rights_certificate_key", unique=True,
                 postgresql_where=sa.text("state NOT IN ('rejected', 'withdrawn')")),
        # a certificate number has something visible to compare
        sa.CheckConstraint("forest_rights_certificate_key <> ''",
                           name="ck_project_certificate_key"),
        # only the lifecycle's states and the methodology's kinds
        sa.CheckConstraint(one_of("state", ProjectState), name="ck_project_state"),
        # forest_management has no current CCER methodology: only rows filed before it
        sa.CheckConstraint(one_of("kind", ProjectKind) + " AND (kind = 'afforestation' OR "
                           "methodology IS NULL)", name="ck_project_kind"),
        sa.CheckConstraint(one_of("vegetation", Vegetation), name="ck_project_vegetation"),
        # a filing under CCER-14-001-V01 records its land and meets the methodology's
        # applicability conditions and crediting period (domain/rules.py); rows filed before
        # migration 0005 have no methodology and keep what they had
        sa.CheckConstraint("methodology IS NULL OR (methodology = 'CCER-14-001-V01' AND "
                           "crediting_years BETWEEN 20 AND 40 AND "
                           "non_forest_since <= (crediting_start - INTERVAL '3 years')::date AND "
                           "smallest_parcel_m2 >= 400 AND "
                           "smallest_parcel_m2 <= area_ha * 10000 AND "
                           "NOT land_is_wetland AND NOT burning_site_preparation)",
                           name="ck_project_ccer_eligibility"),
        # the methodology's area range
        sa.CheckConstraint("area_ha > 0 AND area_ha <= 100000", name="ck_project_area"),
        # the documented start bound keeps the crediting end a real date (no overflow)
        sa.CheckConstraint("crediting_start BETWEEN DATE '1990-01-01' AND DATE '2100-12-31' "
                           "AND crediting_years BETWEEN 1 AND 100",
                           name="ck_project_crediting_window"),
        # the non-permanence buffer decided at approval (NULL passes: not approved yet)
        sa.CheckConstraint("buffer_pct BETWEEN 10 AND 30", name="ck_project_buffer_pct"),
        # registration sets all four together, and nothing else sets them
        sa.CheckConstraint("(state = 'registered') = (project_number IS NOT NULL AND "
                           "buffer_pct IS NOT NULL AND approved_by_user_id IS NOT NULL AND "
                           "registered_at IS NOT NULL)", name="ck_project_registration"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    project_number: int | None = None  # set at registration
    name: str
    kind: str
    county: str
    area_ha: Decimal = Field(sa_type=sa.Numeric(12, 4))
    forest_rights_holder: str
    forest_rights_certificate: str  # as typed, for display
    forest_rights_certificate_key: str  # the normalized form, compared
    crediting_start: date
    crediting_years: int
    description: str = Field(sa_type=sa.Text)
    state: str = Field(index=True)
    developer_user_id: str = Field(index=True)
    developer_username: str
    buffer_pct: Decimal | None = Field(default=None, sa_type=sa.Numeric(5, 2))
    approved_by_user_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    registered_at: datetime | None = Field(default=None, sa_type=_ts())
    # CCER-14-001-V01 filings (NULL in rows filed before migration 0005)
    methodology: str | None = None
    vegetation: str = "tree"
    non_forest_since: date | None = None
    smallest_parcel_m2: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 2))
    land_is_wetland: bool | None = None
    burning_site_preparation: bool | None = None


class TimelineEntry(VerificationTable, table=True):
    """One step of a project's life: a transition, a report, a verification or an issuance."""

    __tablename__ = "project_timeline"
    __table_args__ = (
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name="project_timeline_project_id_fkey"),
        sa.ForeignKeyConstraint(["monitoring_report_id"], ["monitoring_report.id"],
                                name="project_timeline_monitoring_report_id_fkey"),
        sa.ForeignKeyConstraint(["accreditation_id"], ["verifier_accreditation.accreditation_id"],
                                name="project_timeline_accreditation_id_fkey"),
        sa.ForeignKeyConstraint(["loss_event_id"], ["loss_event.id"],
                                name="project_timeline_loss_event_id_fkey"),
        sa.Index("ix_project_timeline_project_id", "project_id", "seq"),
        # a verifier's own decisions, newest first (GET /verifiers/me/decisions)
        sa.Index("ix_project_timeline_actor", "actor_user_id", "seq"),
        # a verifier's step (a review or a verification decision) names the accreditation it
        # was made under, and nobody else's step names one. Migration 0004 validates this only
        # where no earlier decision lacks it (those predate accreditation); new rows always.
        sa.CheckConstraint("(actor_role = 'verifier') = (accreditation_id IS NOT NULL AND "
                           "accreditation_number IS NOT NULL AND "
                           "accreditation_organisation IS NOT NULL)",
                           name="ck_project_timeline_accreditation"),
        # a review is decided once: two approvals would mean two registry numbers
        sa.Index("ux_project_timeline_decided", "project_id", unique=True,
                 postgresql_where=sa.text("step IN ('registered', 'rejected')")),
        # CreditsIssued is applied at most once per report, whatever the event's id
        sa.Index("ux_project_timeline_credits_issued", "monitoring_report_id", unique=True,
                 postgresql_where=sa.text("step = 'credits_issued'")),
    )

    seq: int | None = Field(default=None, primary_key=True)  # the order of the steps
    project_id: str
    step: str  # filed, submitted, changes_requested, registered, rejected, monitoring_reported, ...
    from_state: str | None = None
    to_state: str
    monitoring_report_id: str | None = None
    actor_user_id: str
    actor_username: str
    actor_role: str
    comments: str = Field(default="", sa_type=sa.Text)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    # a verifier's decision: the accreditation it was made under (the public record shows it)
    accreditation_id: str | None = None
    accreditation_number: str | None = None
    accreditation_organisation: str | None = None
    loss_event_id: str | None = None  # a loss event's step


class MonitoringReport(VerificationTable, table=True):
    __tablename__ = "monitoring_report"
    __table_args__ = (
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name="monitoring_report_project_id_fkey"),
        # one issuance per report: MonitoringVerified carries this id, credits issues it once
        sa.UniqueConstraint("issuance_id", name="monitoring_report_issuance_id_key"),
        # a period is a real span of days
        sa.CheckConstraint("period_end > period_start", name="ck_monitoring_period"),
        # a report claims net removals (> 0) or records a reversal (< 0); a net of 0 is no report
        sa.CheckConstraint("claim_tco2e <> 0", name="ck_monitoring_claim_nonzero"),
        sa.CheckConstraint(one_of("state", ReportState), name="ck_monitoring_report_state"),
        # the claim is derived, from figures that cannot be negative
        sa.CheckConstraint("project_sink_tco2e >= 0 AND baseline_sink_tco2e >= 0 AND "
                           "leakage_tco2e >= 0 AND claim_tco2e = project_sink_tco2e - "
                           "baseline_sink_tco2e - leakage_tco2e", name="ck_monitoring_figures"),
        # a verifier may credit less than a removal's claim, never more; a reversal is verified
        # as a loss (negative). NULL passes: not verified
        sa.CheckConstraint("(claim_tco2e > 0 AND verified_tco2e > 0 AND "
                           "verified_tco2e <= claim_tco2e) OR "
                           "(claim_tco2e < 0 AND verified_tco2e < 0)",
                           name="ck_monitoring_verified_quantity"),
        # verification sets the quantity, and for a removal the issuance id; only it does. A
        # reversal issues nothing: it has no issuance id, ever
        sa.CheckConstraint("(state IN ('verified', 'issued')) = (verified_tco2e IS NOT NULL) AND "
                           "(issuance_id IS NOT NULL) = (state IN ('verified', 'issued') AND "
                           "claim_tco2e > 0)", name="ck_monitoring_verified_state"),
        # CreditsIssued sets its five fields together, and only it does
        sa.CheckConstraint("(state = 'issued') = (issued_quantity IS NOT NULL AND "
                           "buffer_quantity IS NOT NULL AND serial_first IS NOT NULL AND "
                           "serial_last IS NOT NULL AND issued_at IS NOT NULL)",
                           name="ck_monitoring_issued_state"),
        # less than a tonne verified issues 0 credits, never fewer (NULL passes: not issued)
        sa.CheckConstraint("issued_quantity >= 0 AND buffer_quantity >= 0",
                           name="ck_monitoring_issued_quantities"),
        # no tonne is reported twice: live periods of one project never share a day
        ExcludeConstraint(
            (sa.column("project_id"), "="),
            (sa.func.daterange(sa.column("period_start"), sa.column("period_end"),
                               sa.literal_column("'[]'")), "&&"),
            name="ex_monitoring_report_period", using="gist",
            where=sa.text("state <> 'rejected'")),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    project_id: str = Field(index=True)
    period_start: date
    period_end: date
    project_sink_tco2e: Decimal = Field(sa_type=TCO2E)
    baseline_sink_tco2e: Decimal = Field(sa_type=TCO2E)
    leakage_tco2e: Decimal = Field(sa_type=TCO2E)
    claim_tco2e: Decimal = Field(sa_type=TCO2E)
    state: str = Field(index=True)
    submitted_by_user_id: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    # set on verification
    verified_tco2e: Decimal | None = Field(default=None, sa_type=TCO2E)
    issuance_id: str | None = None
    # set from CreditsIssued
    issued_quantity: int | None = None
    buffer_quantity: int | None = None
    serial_first: str | None = None
    serial_last: str | None = None
    issued_at: datetime | None = Field(default=None, sa_type=_ts())


class Verification(VerificationTable, table=True):
    """A verifier's decision on a report; one per report, whatever the decision."""

    __tablename__ = "verification"
    __table_args__ = (
        sa.ForeignKeyConstraint(["monitoring_report_id"], ["monitoring_report.id"],
                                name="verification_monitoring_report_id_fkey"),
        sa.ForeignKeyConstraint(["accreditation_id"], ["verifier_accreditation.accreditation_id"],
                                name="verification_accreditation_id_fkey"),
        # one decision per report: parallel verifiers cannot both publish MonitoringVerified
        sa.UniqueConstraint("monitoring_report_id", name="verification_monitoring_report_id_key"),
        # every decision is made under an accreditation (migration 0004 validates this only
        # where no earlier decision lacks it; new rows always)
        sa.CheckConstraint("accreditation_id IS NOT NULL AND accreditation_number IS NOT NULL",
                           name="ck_verification_accreditation"),
        # a verified decision credits a positive quantity; a rejection credits nothing (its
        # NULL quantity makes the last term NULL, which a check lets pass)
        sa.CheckConstraint("decision IN ('verified', 'rejected') AND "
                           "(decision = 'verified') = (verified_tco2e IS NOT NULL) AND "
                           "verified_tco2e <> 0", name="ck_verification_decision"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    monitoring_report_id: str
    decision: str
    verified_tco2e: Decimal | None = Field(default=None, sa_type=TCO2E)
    comments: str = Field(sa_type=sa.Text)
    verifier_user_id: str
    verifier_username: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    # the accreditation the decision was made under; NULL only in decisions made before
    # verifiers were accredited (ck_verification_accreditation refuses it in new rows)
    accreditation_id: str | None = None
    accreditation_number: str | None = None


class LossEvent(VerificationTable, table=True):
    """Carbon a registered project lost, reported by its developer (or a verified reversal),
    verified by an accredited verifier and then compensated by the registry (domain/losses.py).
    Updated only along its state machine, by conditional updates."""

    __tablename__ = "loss_event"
    __table_args__ = (
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name="loss_event_project_id_fkey"),
        sa.ForeignKeyConstraint(["monitoring_report_id"], ["monitoring_report.id"],
                                name="loss_event_monitoring_report_id_fkey"),
        sa.ForeignKeyConstraint(["accreditation_id"], ["verifier_accreditation.accreditation_id"],
                                name="loss_event_accreditation_id_fkey"),
        # a verified reversal is compensated once: one loss per report
        sa.UniqueConstraint("monitoring_report_id", name="loss_event_monitoring_report_id_key"),
        sa.CheckConstraint(f"cause IN ({', '.join(repr(c) for c in ALL_CAUSES)}) AND "
                           "(cause = 'reversal') = (monitoring_report_id IS NOT NULL)",
                           name="ck_loss_event_cause"),
        sa.CheckConstraint(one_of("state", LossState), name="ck_loss_event_state"),
        sa.CheckConstraint("estimated_tco2e > 0 AND area_ha > 0", name="ck_loss_event_figures"),
        # a decided loss names who decided it under which accreditation, and a confirmed one
        # its verified quantity (> 0); a reported or rejected one has none
        sa.CheckConstraint("(state <> 'reported') = (decided_at IS NOT NULL AND "
                           "accreditation_id IS NOT NULL AND accreditation_number IS NOT NULL "
                           "AND decided_by_user_id IS NOT NULL)",
                           name="ck_loss_event_decided"),
        sa.CheckConstraint("(state IN ('verified', 'compensated')) = "
                           "(verified_tco2e IS NOT NULL AND verified_tco2e > 0)",
                           name="ck_loss_event_verified"),
        # the registry's answer, all together, and only on a compensated loss
        sa.CheckConstraint("(state = 'compensated') = (compensated_at IS NOT NULL AND "
                           "required_credits IS NOT NULL AND from_pool IS NOT NULL AND "
                           "from_developer IS NOT NULL AND shortfall IS NOT NULL)",
                           name="ck_loss_event_compensated"),
        sa.CheckConstraint("from_pool >= 0 AND from_developer >= 0 AND shortfall >= 0 AND "
                           "from_pool + from_developer + shortfall = required_credits",
                           name="ck_loss_event_compensation_split"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    project_id: str = Field(index=True)
    cause: str
    occurred_on: date
    area_ha: Decimal = Field(sa_type=sa.Numeric(12, 4))
    estimated_tco2e: Decimal = Field(sa_type=TCO2E)
    description: str = Field(default="", sa_type=sa.Text)
    state: str = Field(index=True)
    reported_by_user_id: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    monitoring_report_id: str | None = None  # a reversal's report
    # the verifier's decision
    verified_tco2e: Decimal | None = Field(default=None, sa_type=TCO2E)
    decided_by_user_id: str | None = None
    decided_by_username: str | None = None
    accreditation_id: str | None = None
    accreditation_number: str | None = None
    decision_comments: str = Field(default="", sa_type=sa.Text)
    decided_at: datetime | None = Field(default=None, sa_type=_ts())
    # the registry's compensation (BufferCompensated), in whole credits
    required_credits: int | None = None
    from_pool: int | None = None
    from_developer: int | None = None
    shortfall: int | None = None
    compensated_at: datetime | None = Field(default=None, sa_type=_ts())


class VerifierAccreditation(VerificationTable, table=True):
    """accounts' grants and revocations of verifier accreditations, as received by event.

    A revocation may arrive before its grant (a redelivery, a replay): its row then holds the
    revocation alone and the grant fills in the rest later; it stays revoked either way."""

    __tablename__ = "verifier_accreditation"
    __table_args__ = (
        # a grant arrives whole: its six fields are all set, or (revocation first) none is
        sa.CheckConstraint("(granted_at IS NULL) = (username IS NULL) AND "
                           "(granted_at IS NULL) = (organisation IS NULL) AND "
                           "(granted_at IS NULL) = (number IS NULL) AND "
                           "(granted_at IS NULL) = (valid_from IS NULL) AND "
                           "(granted_at IS NULL) = (valid_to IS NULL)",
                           name="ck_verifier_accreditation_grant"),
        # valid_to is the last valid day (NULL passes: the grant has not arrived)
        sa.CheckConstraint("valid_to >= valid_from", name="ck_verifier_accreditation_validity"),
        # a revocation has its time and its reason
        sa.CheckConstraint("(revoked_at IS NULL) = (revocation_reason IS NULL)",
                           name="ck_verifier_accreditation_revocation"),
        # a row records a grant, a revocation, or both
        sa.CheckConstraint("granted_at IS NOT NULL OR revoked_at IS NOT NULL",
                           name="ck_verifier_accreditation_recorded"),
    )

    accreditation_id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    username: str | None = None
    organisation: str | None = None
    number: str | None = None  # the accreditation number
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive
    granted_at: datetime | None = Field(default=None, sa_type=_ts())
    revoked_at: datetime | None = Field(default=None, sa_type=_ts())
    revocation_reason: str | None = Field(default=None, sa_type=sa.Text)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=_ts())


class Document(VerificationTable, table=True):
    """A supporting document by its SHA-256, attached to a project or to one of its reports."""

    __tablename__ = "document"
    __table_args__ = (
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name="document_project_id_fkey"),
        sa.ForeignKeyConstraint(["monitoring_report_id"], ["monitoring_report.id"],
                                name="document_monitoring_report_id_fkey"),
        # stored lower-case, so one document has one spelling
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="ck_document_sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(index=True)
    monitoring_report_id: str | None = Field(default=None, index=True)
    name: str
    sha256: str = Field(sa_type=sa.String(64))


class RegistryCounter(VerificationTable, table=True):
    """Gap-free registry numbers: the row is locked, read and bumped in the approval's
    transaction."""

    __tablename__ = "registry_counter"
    __table_args__ = (
        # numbers count up from 1
        sa.CheckConstraint("value >= 0", name="ck_registry_counter_value"),
    )

    name: str = Field(primary_key=True)
    value: int
