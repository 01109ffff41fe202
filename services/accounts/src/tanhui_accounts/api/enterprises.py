"""Enterprise carbon accounts: registration, the factor library, reports, public disclosures."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, field_validator

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import CurrentUser, Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel

from ..domain.claims import ClaimStatus
from ..domain.reports import Activity
from ..domain.uscc import uscc_problem
from ..domain.disclosure import disclose
from ..store.disclosures import disclosure_page
from ..store.enterprises import is_member, lines_of, reports_of, retirements_of_periods
from ..store.factors import list_versions, to_domain
from ..store.tables import CarbonReport, Enterprise
from ..usecases import enterprises as usecases
from .pages import After, KeysetPage, Limit, Offset, SortKey, encode_cursor
from .params import Id

router = APIRouter(prefix="/api/v1", tags=["enterprise carbon accounts"])
EnterpriseUser = Annotated[Principal, Depends(require_role("enterprise"))]

# A year, a quarter or a month, in ASCII digits only: `\d` would also take ２０２４ or ٢٠٢٤.
PERIOD = r"^[0-9]{4}(-(Q[1-4]|0[1-9]|1[0-2]))?$"
YEAR = r"^[0-9]{4}$"


class EnterpriseIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    uscc: str = Field(description="统一社会信用代码, 18 characters with its check character")
    county: str = Field(min_length=1, max_length=50)
    industry: str = Field(min_length=1, max_length=100)

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, value: str) -> str:
        value = value.strip().upper()
        if problem := uscc_problem(value):
            raise ValueError(problem)
        return value


class EnterpriseOut(BaseModel):
    id: str
    name: str
    uscc: str
    county: str
    industry: str
    created_at: datetime
    claim_status: ClaimStatus = Field(description="the claim to the USCC: pending until the "
                                      "regulator decides; only a confirmed one is disclosed")
    decided_at: datetime | None
    decision_reason: str | None


@router.post("/enterprises", response_model=EnterpriseOut, status_code=201)
def register_enterprise(body: EnterpriseIn, user: EnterpriseUser, session: SessionDep,
                        idem: Idempotency):
    """Claim a USCC: pending (reports are drafts, nothing disclosed) until the regulator
    confirms it; other claimants of the same code queue beside it."""
    def register(uow: UnitOfWork) -> EnterpriseOut:
        enterprise = usecases.create_enterprise(uow, user.user_id, **body.model_dump())
        return EnterpriseOut.model_validate(enterprise, from_attributes=True)

    return idem.execute(session, user.user_id, register, status_code=201)


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseOut)
def read_enterprise(enterprise_id: Id, user: CurrentUser, session: SessionDep) -> Enterprise:
    """Its members' (and the regulator's) view, with the claim's status and the reason given."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not _may_read(session, user, enterprise_id):
        raise NotFound("no such enterprise", code="enterprise-not-found")
    return enterprise


class FactorOut(BaseModel):
    code: str
    name: str
    category: str
    scope: int
    value: Decimal = Field(description="tCO2e per activity unit")
    unit: str
    activity_unit: str
    source: str
    version: str
    valid_from: date
    valid_to: date | None = Field(description="the last valid day; null: until replaced")
    components: dict[str, Decimal] | None
    published_at: datetime
    superseded_at: datetime | None = Field(description="set when a correction replaced it")


@router.get("/factors", response_model=list[FactorOut])
def factor_library(session: SessionDep,
                   code: Annotated[str | None, Query(max_length=100)] = None,
                   valid_on: Annotated[date | None, Query(
                       description="only the live versions valid on this day")] = None,
                   ) -> list[FactorOut]:
    """Every published version of every factor, superseded ones included (a filed report names
    the version it used), oldest first per code."""
    out = []
    for row in list_versions(session, code, valid_on):
        f = to_domain(row)
        out.append(FactorOut(code=f.code, name=f.name, category=f.category, scope=f.scope,
                             value=f.value, unit=f.unit, activity_unit=f.activity_unit,
                             source=f.source, version=f.version, valid_from=f.valid_from,
                             valid_to=f.valid_to,
                             components=vars(f.components) if f.components else None,
                             published_at=row.published_at, superseded_at=row.superseded_at))
    return out


class ActivityIn(ApiModel):
    factor_code: str = Field(min_length=1)
    quantity: Decimal = Field(gt=0, le=Decimal("1e12"), allow_inf_nan=False, decimal_places=6)
    unit: str = Field(min_length=1)


class ReportIn(ApiModel):
    period: str = Field(pattern=PERIOD, description="2025, 2025-Q1 or 2025-03")
    activities: list[ActivityIn] = Field(min_length=1, max_length=500)


class LineOut(BaseModel):
    factor_code: str
    factor_version: str
    factor_value: Decimal
    factor_unit: str
    factor_source: str
    scope: int
    quantity: Decimal
    unit: str
    tco2e: Decimal
    derivation: str


class RetirementOut(BaseModel):
    """Credits retired for the report's period, and the revision the retirement named."""
    retirement_id: str
    report_id: str
    revision: int
    quantity: int
    certificate_id: str
    retired_at: datetime


Retirements = dict[tuple[str, str], list[RetirementOut]]


def _retirements(session, reports: list[CarbonReport]) -> Retirements:
    found = retirements_of_periods(session, {(r.enterprise_id, r.period) for r in reports})
    return {key: [RetirementOut(revision=revision, **row.model_dump()) for row, revision in rows]
            for key, rows in found.items()}


class ReportOut(BaseModel):
    id: str
    enterprise_id: str
    period: str
    revision: int
    is_current: bool
    supersedes_id: str | None
    scope1_tco2e: Decimal
    scope2_tco2e: Decimal
    total_tco2e: Decimal = Field(description="gross: the inventory's scope 1 + 2, never "
                                 "reduced by credits retired")
    retired_tco2e: int = Field(description="credits retired for this period, against this or "
                               "any other revision of it (GHG Protocol: reported separately)")
    net_tco2e: Decimal = Field(description="total_tco2e - retired_tco2e, shown beside both")
    retirements: list[RetirementOut]
    filed_at: datetime
    lines: list[LineOut]


def _report_out(session, report: CarbonReport, retirements: Retirements | None = None
                ) -> ReportOut:
    if retirements is None:
        retirements = _retirements(session, [report])
    mine = retirements.get((report.enterprise_id, report.period), [])
    figures = disclose(report.total_tco2e, (r.quantity for r in mine))
    return ReportOut(**report.model_dump(), retired_tco2e=figures.retired_tco2e,
                     net_tco2e=figures.net_tco2e, retirements=mine,
                     lines=[LineOut.model_validate(l, from_attributes=True)
                            for l in lines_of(session, report.id)])


def _activities(lines: list[ActivityIn]) -> list[Activity]:
    return [Activity(a.factor_code, a.quantity, a.unit) for a in lines]


@router.post("/enterprises/{enterprise_id}/reports", response_model=ReportOut, status_code=201)
def file_report(enterprise_id: Id, body: ReportIn, user: EnterpriseUser, session: SessionDep,
                idem: Idempotency):
    def file(uow: UnitOfWork) -> ReportOut:
        report = usecases.file_report(uow, user.user_id, enterprise_id, body.period,
                                      _activities(body.activities))
        return _report_out(uow.session, report, {})  # a new period: nothing retired for it yet

    return idem.execute(session, user.user_id, file, status_code=201)


class RevisionIn(ApiModel):
    activities: list[ActivityIn] = Field(min_length=1, max_length=500)


@router.post("/reports/{report_id}/revisions", response_model=ReportOut, status_code=201)
def revise_report(report_id: Id, body: RevisionIn, user: EnterpriseUser, session: SessionDep,
                  idem: Idempotency):
    """A correction of the period's current report: a new revision; the earlier one stays
    readable. Revising a report that was already superseded is 409."""
    def revise(uow: UnitOfWork) -> ReportOut:
        report = usecases.revise_report(uow, user.user_id, report_id, _activities(body.activities))
        return _report_out(uow.session, report)  # the period's retirements carry over

    return idem.execute(session, user.user_id, revise, status_code=201)


def _may_read(session, user: Principal, enterprise_id: str) -> bool:
    return user.role == "regulator" or is_member(session, enterprise_id, user.user_id)


@router.get("/enterprises/{enterprise_id}/reports", response_model=list[ReportOut])
def enterprise_reports(enterprise_id: Id, user: CurrentUser, session: SessionDep) -> list[ReportOut]:
    if session.get(Enterprise, enterprise_id) is None or not _may_read(session, user, enterprise_id):
        raise NotFound("no such enterprise", code="enterprise-not-found")
    reports = reports_of(session, enterprise_id)
    retirements = _retirements(session, reports)
    return [_report_out(session, r, retirements) for r in reports]


@router.get("/reports/{report_id}", response_model=ReportOut)
def read_report(report_id: Id, user: CurrentUser, session: SessionDep) -> ReportOut:
    report = session.get(CarbonReport, report_id)
    if report is None or not _may_read(session, user, report.enterprise_id):
        raise NotFound("no such report", code="report-not-found")
    return _report_out(session, report)


class DisclosureOut(BaseModel):
    enterprise: str
    uscc: str
    county: str
    industry: str
    period: str
    revision: int
    report_id: str
    gross_tco2e: Decimal = Field(description="the current revision's scope 1 + 2 total, never "
                                 "reduced by credits retired")
    retired_tco2e: int = Field(description="credits retired for the period, whichever revision "
                               "each named")
    net_tco2e: Decimal = Field(description="gross_tco2e - retired_tco2e, shown beside both")
    retirements: list[RetirementOut]
    filed_at: datetime


@router.get("/disclosures", response_model=KeysetPage[DisclosureOut])
def disclosures(session: SessionDep,
                period: Annotated[str | None, Query(pattern=PERIOD)] = None,
                year: Annotated[str | None, Query(pattern=YEAR, description=(
                    "every period of the year: 2025, 2025-Q1 .. 2025-Q4, 2025-01 .. 2025-12"))] = None,
                limit: Limit = 50, offset: Offset = 0,
                after: After = None) -> KeysetPage[DisclosureOut]:
    """Public: every confirmed enterprise's current revision per period, its gross emissions,
    the credits retired for the period (against any of its revisions) and the net, side by
    side. Enterprises whose claim to their USCC is pending or rejected are left out.
    Always one page (newest period first, then by name, then report id) with the total: a
    city's ten thousand enterprises are never answered in one reply. Page on with `after` =
    the previous page's `next` (an index range however deep); `offset` still works but skips
    rows, so it slows with depth and cannot be combined with `after`."""
    key: SortKey | None = after  # type: ignore[assignment] - the validator decoded the cursor
    if key is not None and offset:
        # answered like any other refused query parameter (errors[] naming it)
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "offset"),
                                       "msg": "`after` continues from a cursor: leave `offset` "
                                              "out", "input": offset}])
    total, rows, last = disclosure_page(session, period, year, limit=limit, offset=offset,
                                        after=key)
    out = []
    for r in rows:
        retirements = [RetirementOut(retirement_id=x.retirement_id, report_id=x.report_id,
                                     revision=x.revision, quantity=x.quantity,
                                     certificate_id=x.certificate_id, retired_at=x.retired_at)
                       for x in r.retirements]
        figures = disclose(r.gross_tco2e, (x.quantity for x in r.retirements))
        out.append(DisclosureOut(enterprise=r.enterprise, uscc=r.uscc, county=r.county,
                                 industry=r.industry, period=r.period, revision=r.revision,
                                 report_id=r.report_id, gross_tco2e=figures.gross_tco2e,
                                 retired_tco2e=figures.retired_tco2e, net_tco2e=figures.net_tco2e,
                                 retirements=retirements, filed_at=r.filed_at))
    # the route's own response type, so FastAPI's check of the answer is an isinstance
    return KeysetPage[DisclosureOut](items=out, total=total, limit=limit, offset=offset,
                                     next=encode_cursor(last) if last else None)
