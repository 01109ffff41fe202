"""Enterprise carbon accounts: registration (a claim to a USCC, decided in usecases/claims.py),
reports and their revisions, credits retired against reports, and new versions of emission
factors."""
from __future__ import annotations

from tanhui_shared.contracts import CreditsRetired, ReportFiled
from tanhui_shared.errors import Conflict, Invalid, NotFound
from tanhui_shared.methodology import EmissionFactor, version_for
from tanhui_shared.uow import UnitOfWork

from ..domain.claims import is_disclosed
from ..domain.errors import PeriodAlreadyFiled, ReportSuperseded, UsccAlreadyClaimed
from ..domain.factors import REPORT_SCOPES
from ..domain.reports import (Activity, ActivityError, ReportFigures, compute_report,
                              period_bounds)
from ..store import enterprises as store
from ..store.factors import is_published, live_versions, publish_factor_version
from ..store.tables import CarbonReport, Enterprise, EnterpriseMember


def create_enterprise(uow: UnitOfWork, user_id: str, *, name: str, uscc: str, county: str,
                      industry: str) -> Enterprise:
    """Register an enterprise with its registrant as first member: a pending claim to `uscc`,
    queued for the regulator beside any other claims of the code. A registrant has one open
    claim per code; the partial unique key answers a registration racing this one."""
    if (mine := store.open_claim(uow.session, uscc, user_id)) is not None:
        raise UsccAlreadyClaimed(mine.id)
    enterprise = Enterprise(name=name, uscc=uscc, county=county, industry=industry,
                            created_by=user_id)
    uow.session.add(enterprise)
    uow.session.add(EnterpriseMember(enterprise_id=enterprise.id, user_id=user_id))
    uow.session.flush()
    return enterprise


def file_report(uow: UnitOfWork, user_id: str, enterprise_id: str, period: str,
                activities: list[Activity]) -> CarbonReport:
    """Revision 1 of a period's report. A period already filed is a conflict (correct it with a
    revision); a filing racing this one loses on the revision's unique key."""
    enterprise = store.enterprise_for_share(uow.session, enterprise_id)
    if enterprise is None or not store.is_member(uow.session, enterprise_id, user_id):
        # another tenant's: indistinguishable from absent
        raise NotFound("no such enterprise", code="enterprise-not-found")
    figures = _figures(uow, period, activities)
    if (current := store.current_report(uow.session, enterprise_id, period)) is not None:
        raise PeriodAlreadyFiled(period, current.id)
    return _add_revision(uow, enterprise, user_id, period, 1, None, figures)


def revise_report(uow: UnitOfWork, user_id: str, report_id: str,
                  activities: list[Activity]) -> CarbonReport:
    """A correction: the next revision of the period, superseding `report_id`, which must be
    the current one (a parallel revision of it finds it superseded and answers 409)."""
    report = uow.session.get(CarbonReport, report_id)
    if report is None or not store.is_member(uow.session, report.enterprise_id, user_id):
        raise NotFound("no such report", code="report-not-found")
    enterprise = store.enterprise_for_share(uow.session, report.enterprise_id)
    figures = _figures(uow, report.period, activities)
    if not store.supersede(uow.session, report.id):
        raise ReportSuperseded(report.id)
    uow.session.expire(report)  # now superseded in the database
    return _add_revision(uow, enterprise, user_id, report.period, report.revision + 1, report.id,
                         figures)


def _figures(uow: UnitOfWork, period: str, activities: list[Activity]) -> ReportFigures:
    """Each line takes the version of its factor valid for the whole period; a line whose factor
    has none (a 2023 report and a factor valid from 2025) is refused, naming the line, rather
    than priced with a version meant for other years."""
    start, end = period_bounds(period)
    versions = live_versions(uow.session, {a.factor_code for a in activities})
    factors: dict[str, EmissionFactor] = {}
    for index, activity in enumerate(activities):
        if activity.factor_code not in factors:
            factors[activity.factor_code] = version_for(
                versions, activity.factor_code, start, end,
                field=f"activities[{index}].factor_code")
    try:
        return compute_report(activities, factors)
    except ActivityError as exc:
        raise Invalid(str(exc), field=f"activities[{exc.index}].{exc.field}",
                      code="invalid-activity") from None


def _add_revision(uow: UnitOfWork, enterprise: Enterprise, user_id: str, period: str,
                  revision: int, supersedes_id: str | None, figures: ReportFigures) -> CarbonReport:
    report = CarbonReport(enterprise_id=enterprise.id, period=period, revision=revision,
                          supersedes_id=supersedes_id, scope1_tco2e=figures.scope1_tco2e,
                          scope2_tco2e=figures.scope2_tco2e, total_tco2e=figures.total_tco2e,
                          filed_by=user_id)
    uow.session.add(report)
    store.add_lines(uow.session, report.id, figures.lines)
    uow.session.flush()  # the period's unique keys decide a race here, before the event
    if is_disclosed(enterprise.claim_status):  # else a draft: announced on confirmation
        announce_report(uow, enterprise, report)
    return report


def announce_report(uow: UnitOfWork, enterprise: Enterprise, report: CarbonReport) -> None:
    """`ReportFiled`: credits lets the enterprise's members retire against the report (and
    certificates name it), so only a confirmed enterprise's reports are announced."""
    uow.emit(ReportFiled(report_id=report.id, enterprise_id=enterprise.id,
                         enterprise_name=enterprise.name, period=report.period,
                         revision=report.revision, total_tco2e=report.total_tco2e,
                         member_user_ids=store.member_ids(uow.session, enterprise.id)))


def note_retirement(uow: UnitOfWork, retired: CreditsRetired) -> None:
    """Flows 3 and 5: record credits retired against a report revision, once per retirement
    however often the event arrives. The revision's gross total is never touched: disclosures
    show the period's retirements beside it (domain/disclosure.py), including those against a
    revision a correction has superseded since (a retirement that raced the correction in
    credits). A report accounts never filed is refused by `fk_report_retirement_report`."""
    if retired.report_id is None:
        return
    store.add_retirement(uow.session, retired.retirement_id, retired.report_id, retired.quantity,
                         retired.certificate_id, retired.retired_at)


def publish_factor(uow: UnitOfWork, factor: EmissionFactor) -> None:
    """A new version of a factor replaces the live ones it overlaps for new reports; filed reports keep
    the copy they were computed with. A version is published once."""
    if factor.scope not in REPORT_SCOPES:
        raise Invalid("reports take scope 1 and 2 factors only", field="scope", code="factor-scope")
    if is_published(uow.session, factor.code, factor.version):
        raise Conflict(f"{factor.code} version {factor.version} is already published; give the "
                       "new values a new version", field="version", code="factor-version-exists")
    publish_factor_version(uow.session, factor)
