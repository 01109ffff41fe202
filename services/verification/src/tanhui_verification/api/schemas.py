"""Response bodies; the request bodies are the use cases' commands (usecases/commands.py).
Quantities are Decimal in and decimal strings out (never floats)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, PlainSerializer


def _decimal_text(value: Decimal) -> str:
    """Exact, without trailing zeros or exponent: 1250.5000 -> "1250.5", 1E+2 -> "100"."""
    return f"{value.normalize():f}"


DecimalText = Annotated[Decimal, PlainSerializer(_decimal_text, return_type=str, when_used="json")]


class DocumentView(BaseModel):
    name: str
    sha256: str


class TimelineView(BaseModel):
    seq: int
    step: str
    from_state: str | None
    to_state: str
    monitoring_report_id: str | None
    actor_user_id: str
    actor_username: str
    actor_role: str
    comments: str
    occurred_at: datetime
    # a verifier's decision: the accreditation it was made under
    accreditation_id: str | None = None
    accreditation_number: str | None = None
    accreditation_organisation: str | None = None
    loss_event_id: str | None = None


class LossView(BaseModel):
    id: str
    project_id: str
    cause: str
    occurred_on: date
    area_ha: DecimalText
    estimated_tco2e: DecimalText
    description: str
    state: str
    created_at: datetime
    monitoring_report_id: str | None
    verified_tco2e: DecimalText | None
    decided_by_username: str | None
    accreditation_id: str | None
    accreditation_number: str | None
    decision_comments: str
    decided_at: datetime | None
    # the registry's compensation, in whole credits (shortfall: what neither the buffer pool
    # nor the developer's holdings could cover)
    required_credits: int | None
    from_pool: int | None
    from_developer: int | None
    shortfall: int | None
    compensated_at: datetime | None


class ReportView(BaseModel):
    id: str
    project_id: str
    period_start: date
    period_end: date
    project_sink_tco2e: DecimalText
    baseline_sink_tco2e: DecimalText
    leakage_tco2e: DecimalText
    claim_tco2e: DecimalText
    state: str
    created_at: datetime
    verified_tco2e: DecimalText | None
    issuance_id: str | None
    vintage: int
    reversal: bool  # a negative net: verified, it issues nothing and is compensated as a loss
    issued_quantity: int | None
    buffer_quantity: int | None
    serial_first: str | None
    serial_last: str | None
    issued_at: datetime | None
    documents: list[DocumentView] = []
    # once decided: who decided, under which accreditation
    verifier_username: str | None = None
    accreditation_id: str | None = None
    accreditation_number: str | None = None


class ProjectView(BaseModel):
    id: str
    project_number: int | None
    name: str
    kind: str
    county: str
    area_ha: DecimalText
    forest_rights_holder: str
    forest_rights_certificate: str
    crediting_start: date
    crediting_years: int
    crediting_end: date  # exclusive: the first day after the crediting period
    methodology: str | None  # CCER-14-001-V01; None for projects filed before it was recorded
    vegetation: str
    non_forest_since: date | None
    smallest_parcel_m2: DecimalText | None
    land_is_wetland: bool | None
    burning_site_preparation: bool | None
    description: str
    state: str
    developer_user_id: str
    developer_username: str
    buffer_pct: DecimalText | None
    created_at: datetime
    registered_at: datetime | None


class ProjectDetail(ProjectView):
    documents: list[DocumentView]
    timeline: list[TimelineView]
    monitoring_reports: list[ReportView]
    loss_events: list[LossView]


class ProjectPage(BaseModel):
    items: list[ProjectView]
    total: int
    limit: int
    offset: int


class VerifierQueue(BaseModel):
    projects: list[ProjectView]
    monitoring_reports: list[ReportView]
    loss_events: list[LossView] = []


class DecisionView(BaseModel):
    """One of a verifier's decisions: a design review, a verification, a loss verification."""

    kind: str  # review | verification | loss
    decided_at: datetime
    project_id: str
    project_name: str
    subject_id: str  # the project, the monitoring report or the loss event decided on
    outcome: str  # approved | rejected | changes_requested | verified | confirmed
    quantity: DecimalText | None  # tCO2e verified (a reversal: negative); else null
    comment: str
    accreditation_number: str | None


class DecisionPage(BaseModel):
    items: list[DecisionView]
    total: int
    limit: int
    offset: int
