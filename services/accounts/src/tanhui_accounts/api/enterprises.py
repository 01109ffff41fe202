"""Enterprise carbon accounts: registration, the factor library, reports, public disclosures."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator

from tanhui_shared.contracts import ReportFiled
from tanhui_shared.messaging import record_event
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser, Principal, require_role
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.problems import Problem

from ..domain.reports import Activity, ActivityError, compute_report
from ..domain.uscc import uscc_problem
from ..store.enterprises import (current_reports, is_member, lines_of, member_ids, report_revisions,
                                 reports_of, retired_against)
from ..store.factors import current_factors
from ..store.tables import CarbonReport, Enterprise, EnterpriseMember, ReportLineRow

router = APIRouter(prefix="/api/v1", tags=["enterprise carbon accounts"])
EnterpriseUser = Annotated[Principal, Depends(require_role("enterprise"))]

PERIOD = r"^\d{4}(-(Q[1-4]|0[1-9]|1[0-2]))?$"  # a year, a quarter or a month


class EnterpriseIn(BaseModel):
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


@router.post("/enterprises", response_model=EnterpriseOut, status_code=201)
def register_enterprise(body: EnterpriseIn, user: EnterpriseUser, session: SessionDep,
                        idem: Idempotency):
    def register() -> EnterpriseOut:
        if session.exec(Enterprise.__table__.select()
                        .where(Enterprise.__table__.c.uscc == body.uscc)).first():
            raise Problem(409, "an enterprise with this unified social credit code is registered",
                          field="uscc")
        enterprise = Enterprise(**body.model_dump(), created_by=user.user_id)
        session.add(enterprise)
        session.add(EnterpriseMember(enterprise_id=enterprise.id, user_id=user.user_id))
        session.flush()
        return EnterpriseOut.model_validate(enterprise, from_attributes=True)

    return idem.execute(session, user.user_id, register, status_code=201)


class FactorOut(BaseModel):
    code: str
    name: str
    scope: int
    value: Decimal
    unit: str
    activity_unit: str
    source: str
    version: str
    valid_from: date
    valid_to: date | None
    components: dict[str, Decimal] | None


@router.get("/factors", response_model=list[FactorOut])
def factor_library(session: SessionDep) -> list[FactorOut]:
    return [FactorOut(code=f.code, name=f.name, scope=f.scope, value=f.value, unit=f.unit,
                      activity_unit=f.activity_unit, source=f.source, version=f.version,
                      valid_from=f.valid_from, valid_to=f.valid_to,
                      components=vars(f.components) if f.components else None)
            for f in current_factors(session).values()]


class ActivityIn(BaseModel):
    factor_code: str = Field(min_length=1)
    quantity: Decimal = Field(gt=0, le=Decimal("1e12"), allow_inf_nan=False, decimal_places=6)
    unit: str = Field(min_length=1)


class ReportIn(BaseModel):
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


class ReportOut(BaseModel):
    id: str
    enterprise_id: str
    period: str
    revision: int
    is_current: bool
    supersedes_id: str | None
    scope1_tco2e: Decimal
    scope2_tco2e: Decimal
    total_tco2e: Decimal
    retired_tco2e: int
    net_tco2e: Decimal
    filed_at: datetime
    lines: list[LineOut]


def _report_out(session, report: CarbonReport, retired: int | None = None) -> ReportOut:
    if retired is None:
        retired = retired_against(session, [report.id]).get(report.id, 0)
    return ReportOut(**report.model_dump(), retired_tco2e=retired,
                     net_tco2e=Decimal(report.total_tco2e) - retired,
                     lines=[LineOut.model_validate(l, from_attributes=True)
                            for l in lines_of(session, report.id)])


def _file(session, user: Principal, enterprise_id: str, body: ReportIn, revising: bool) -> ReportOut:
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not is_member(session, enterprise_id, user.user_id):
        raise Problem(404, "no such enterprise")  # another tenant's: indistinguishable from absent
    try:
        figures = compute_report([Activity(a.factor_code, a.quantity, a.unit) for a in body.activities],
                                 current_factors(session))
    except ActivityError as exc:
        raise Problem(422, str(exc), field=f"activities[{exc.index}].{exc.field}") from None
    earlier = report_revisions(session, enterprise_id, body.period)
    if earlier and not revising:
        raise Problem(409, f"a report for {body.period} is already filed; file a correction with "
                      f"POST /api/v1/reports/{earlier[-1].id}/revisions", field="period")
    for old in earlier:
        old.is_current = False
        session.add(old)
    report = CarbonReport(enterprise_id=enterprise_id, period=body.period,
                          revision=len(earlier) + 1, supersedes_id=earlier[-1].id if earlier else None,
                          scope1_tco2e=figures.scope1_tco2e, scope2_tco2e=figures.scope2_tco2e,
                          total_tco2e=figures.total_tco2e, filed_by=user.user_id)
    session.add(report)
    for n, line in enumerate(figures.lines, start=1):
        session.add(ReportLineRow(report_id=report.id, line_no=n, factor_code=line.factor.code,
                                  factor_version=line.factor.version, factor_value=line.factor.value,
                                  factor_unit=line.factor.unit, factor_source=line.factor.source,
                                  scope=line.factor.scope, quantity=line.quantity, unit=line.unit,
                                  tco2e=line.tco2e, derivation=line.derivation))
    record_event(session, ReportFiled(report_id=report.id, enterprise_id=enterprise_id,
                                      enterprise_name=enterprise.name, period=body.period,
                                      revision=report.revision, total_tco2e=figures.total_tco2e,
                                      member_user_ids=member_ids(session, enterprise_id)))
    session.flush()
    return _report_out(session, report, retired=0)


@router.post("/enterprises/{enterprise_id}/reports", response_model=ReportOut, status_code=201)
def file_report(enterprise_id: str, body: ReportIn, user: EnterpriseUser, session: SessionDep,
                idem: Idempotency):
    return idem.execute(session, user.user_id,
                        lambda: _file(session, user, enterprise_id, body, revising=False), 201)


class RevisionIn(BaseModel):
    activities: list[ActivityIn] = Field(min_length=1, max_length=500)


@router.post("/reports/{report_id}/revisions", response_model=ReportOut, status_code=201)
def revise_report(report_id: str, body: RevisionIn, user: EnterpriseUser, session: SessionDep,
                  idem: Idempotency):
    """A correction: a new revision for the same period; the earlier one stays readable."""
    def revise() -> ReportOut:
        report = session.get(CarbonReport, report_id)
        if report is None or not is_member(session, report.enterprise_id, user.user_id):
            raise Problem(404, "no such report")
        return _file(session, user, report.enterprise_id,
                     ReportIn(period=report.period, activities=body.activities), revising=True)

    return idem.execute(session, user.user_id, revise, status_code=201)


def _may_read(session, user: Principal, enterprise_id: str) -> bool:
    return user.role == "regulator" or is_member(session, enterprise_id, user.user_id)


@router.get("/enterprises/{enterprise_id}/reports", response_model=list[ReportOut])
def enterprise_reports(enterprise_id: str, user: CurrentUser, session: SessionDep) -> list[ReportOut]:
    if session.get(Enterprise, enterprise_id) is None or not _may_read(session, user, enterprise_id):
        raise Problem(404, "no such enterprise")
    reports = reports_of(session, enterprise_id)
    retired = retired_against(session, [r.id for r in reports])
    return [_report_out(session, r, retired.get(r.id, 0)) for r in reports]


@router.get("/reports/{report_id}", response_model=ReportOut)
def read_report(report_id: str, user: CurrentUser, session: SessionDep) -> ReportOut:
    report = session.get(CarbonReport, report_id)
    if report is None or not _may_read(session, user, report.enterprise_id):
        raise Problem(404, "no such report")
    return _report_out(session, report)


class DisclosureOut(BaseModel):
    enterprise: str
    uscc: str
    county: str
    industry: str
    period: str
    revision: int
    report_id: str
    total_tco2e: Decimal
    retired_tco2e: int
    net_tco2e: Decimal
    filed_at: datetime


@router.get("/disclosures", response_model=list[DisclosureOut])
def disclosures(session: SessionDep,
                period: Annotated[str | None, Query(pattern=PERIOD)] = None) -> list[DisclosureOut]:
    """Public: every enterprise's current filed totals, and net of credits retired against them."""
    rows = current_reports(session, period)
    retired = retired_against(session, [r.id for r, _ in rows])
    return [DisclosureOut(enterprise=e.name, uscc=e.uscc, county=e.county, industry=e.industry,
                          period=r.period, revision=r.revision, report_id=r.id,
                          total_tco2e=r.total_tco2e, retired_tco2e=retired.get(r.id, 0),
                          net_tco2e=Decimal(r.total_tco2e) - retired.get(r.id, 0),
                          filed_at=r.filed_at) for r, e in rows]
