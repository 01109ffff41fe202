"""Request and response bodies. Quantities are Decimal in and decimal strings out (never floats)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ..domain.rules import MAX_AREA_HA, MAX_TCO2E, TCO2E_PLACES, ProjectKind



def _decimal_text(value: Decimal) -> str:
    """Exact, without trailing zeros or exponent: 1250.5000 -> "1250.5", 1E+2 -> "100"."""
    return f"{value.normalize():f}"


DecimalText = Annotated[Decimal, PlainSerializer(_decimal_text, return_type=str, when_used="json")]

AreaHa = Annotated[Decimal, Field(gt=0, le=MAX_AREA_HA, max_digits=10, decimal_places=4,
                                  description="hectares, > 0 and <= 100,000, 4 decimals at most")]
Tco2e = Annotated[Decimal, Field(ge=0, le=MAX_TCO2E, max_digits=12, decimal_places=TCO2E_PLACES,
                                 description="tonnes CO2e, 0 .. 10,000,000, 4 decimals at most")]
BufferPct = Annotated[Decimal, Field(max_digits=5, decimal_places=2,
                                     description="non-permanence buffer, 10-30 %, 2 decimals")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Comments = Annotated[str, Field(max_length=4000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentIn(Body):
    name: Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="64 hex characters")]


class ProjectFiling(Body):
    name: Text
    kind: ProjectKind
    county: Text
    area_ha: AreaHa
    forest_rights_holder: Text
    forest_rights_certificate: Text
    crediting_start: date
    crediting_years: Annotated[int, Field(strict=True, ge=1, le=100)]
    description: Annotated[str, Field(max_length=20_000)] = ""
    documents: Annotated[list[DocumentIn], Field(max_length=100)] = []


class ReviewIn(Body):
    decision: Literal["approve", "reject", "request_changes"]
    comments: Comments = ""
    buffer_pct: BufferPct | None = None


class MonitoringFiling(Body):
    period_start: date
    period_end: date
    project_sink_tco2e: Tco2e
    baseline_sink_tco2e: Tco2e
    leakage_tco2e: Tco2e
    documents: Annotated[list[DocumentIn], Field(max_length=100)] = []


class VerificationIn(Body):
    decision: Literal["verified", "rejected"]
    verified_tco2e: Tco2e | None = None
    comments: Comments = ""


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
    issued_quantity: int | None
    buffer_quantity: int | None
    serial_first: str | None
    serial_last: str | None
    issued_at: datetime | None
    documents: list[DocumentView] = []


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


class ProjectPage(BaseModel):
    items: list[ProjectView]
    total: int
    limit: int
    offset: int


class VerifierQueue(BaseModel):
    projects: list[ProjectView]
    monitoring_reports: list[ReportView]
