"""Filing a project, submitting it for review, and the verifier's design review."""
from __future__ import annotations

from tanhui_shared.errors import Conflict, Invalid, NotFound
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.auth import Principal

from ..domain.certificates import CERTIFICATE_FIELD, checked_certificate_key
from ..domain.independence import check_developer, check_may_review
from ..domain.lifecycle import (REVIEW_ACTIONS, ProjectAction, ProjectState, next_project_state)
from ..domain.rules import (METHODOLOGY, LandEligibility, RuleViolation, check_buffer_pct,
                            check_crediting_start, check_crediting_years, check_land_eligibility)
from ..store import projects
from ..store.tables import Project
from ..store.timeline import append_step, attach_documents
from .accreditation import accreditation_for_decision
from .commands import ProjectEdit, ProjectFiling, ReviewIn, WithdrawalIn
from .transitions import apply_transition

# The filing's own fields, as a new filing sends them (documents aside): an edit merges into them.
FILED_FIELDS = tuple(name for name in ProjectFiling.model_fields if name != "documents")


def file_project(uow: UnitOfWork, developer: Principal, filing: ProjectFiling) -> Project:
    """A draft, with its documents and the first step of its timeline. The land must meet
    CCER-14-001-V01's applicability conditions (domain/rules.py)."""
    session = uow.session
    key = _checked_filing(session, filing)
    project = Project(**filing.model_dump(exclude={"documents"}), state=ProjectState.DRAFT,
                      methodology=METHODOLOGY,
                      forest_rights_certificate_key=key,
                      developer_user_id=developer.user_id, developer_username=developer.username)
    session.add(project)
    session.flush()
    attach_documents(session, project.id, [(d.name, d.sha256) for d in filing.documents])
    append_step(session, project.id, "filed", developer, from_state=None, to_state=project.state)
    return project


def _checked_filing(session, filing: ProjectFiling, project_id: str | None = None) -> str:
    """Apply the methodology's rules to a whole filing (a new one, or an edited one merged with
    what is on record); returns the certificate's normalized key."""
    check_crediting_start(filing.crediting_start)
    check_crediting_years(filing.kind, filing.crediting_years)
    check_land_eligibility(LandEligibility(filing.non_forest_since, filing.smallest_parcel_m2,
                                           filing.land_is_wetland,
                                           filing.burning_site_preparation),
                           filing.crediting_start, filing.area_ha)
    # Certificates are compared by their normalized key, so a variant spelling (spaces, case,
    # full-width or zero-width characters) is the same certificate. A friendly answer for the
    # usual case; a concurrent filing of the same certificate is refused by the partial unique
    # index on the key (ux_project_active_certificate) instead.
    key = checked_certificate_key(filing.forest_rights_certificate)
    if projects.certificate_in_use(session, key, other_than=project_id):
        raise Conflict(f"forest-rights certificate {filing.forest_rights_certificate!r} is "
                       "already used by another active project (compared without spaces, case, "
                       "full-width or invisible characters)", field=CERTIFICATE_FIELD,
                       code="certificate-in-use")
    return key


def edit_project(uow: UnitOfWork, developer: Principal, project_id: str,
                 edit: ProjectEdit) -> Project:
    """Change a draft, or a filing the reviewer sent back, by the rules of a new filing; the
    timeline names the fields changed. Under review, registered or closed: 409."""
    project = _locked_project(uow, project_id)
    check_developer(project.developer_user_id, developer.user_id, "edit it")
    after = next_project_state(project.state, ProjectAction.EDIT)
    changes = edit.model_dump(exclude_unset=True, exclude={"documents", "comments"})
    for field, value in changes.items():
        if value is None:  # every filing field is required: null cannot mean "remove"
            raise Invalid(f"{field} cannot be null: leave it out to keep it", field=field,
                          code="field-not-nullable")
    merged = {name: getattr(project, name) for name in FILED_FIELDS} | changes
    missing = [name for name, value in merged.items() if value is None]
    if missing:  # a project filed before CCER-14-001-V01 was recorded lacks its land fields
        raise Invalid(f"{missing[0]} is required by {METHODOLOGY}: send it", field=missing[0],
                      code="filing-incomplete")
    filing = ProjectFiling.model_construct(**merged, documents=[])
    key = _checked_filing(uow.session, filing, project.id)
    changed = sorted(name for name, value in changes.items() if getattr(project, name) != value)
    before = apply_transition(uow.session, project, ProjectAction.EDIT, after, **changes,
                              forest_rights_certificate_key=key, methodology=METHODOLOGY)
    added = [(d.name, d.sha256) for d in edit.documents or []]
    attach_documents(uow.session, project.id, added)
    summary = ", ".join(changed) or "no field"
    if added:
        summary += f"; {len(added)} document(s) added"
    note = f"changed: {summary}" + (f". {edit.comments}" if edit.comments.strip() else "")
    append_step(uow.session, project.id, "edited", developer, from_state=before, to_state=after,
                comments=note)
    return project


def withdraw_project(uow: UnitOfWork, developer: Principal, project_id: str,
                     withdrawal: WithdrawalIn) -> Project:
    """The developer gives the filing up before any decision: `withdrawn` is final, and the
    forest-rights certificate is free for another filing."""
    project = _locked_project(uow, project_id)
    check_developer(project.developer_user_id, developer.user_id, "withdraw it")
    after = next_project_state(project.state, ProjectAction.WITHDRAW)
    before = apply_transition(uow.session, project, ProjectAction.WITHDRAW, after)
    append_step(uow.session, project.id, "withdrawn", developer, from_state=before,
                to_state=after, comments=withdrawal.comments)
    return project


def submit_project(uow: UnitOfWork, developer: Principal, project_id: str) -> Project:
    project = _locked_project(uow, project_id)
    check_developer(project.developer_user_id, developer.user_id, "submit it")
    after = next_project_state(project.state, ProjectAction.SUBMIT)
    before = apply_transition(uow.session, project, ProjectAction.SUBMIT, after)
    append_step(uow.session, project.id, "submitted", developer, from_state=before, to_state=after)
    return project


def review_project(uow: UnitOfWork, verifier: Principal, project_id: str,
                   review: ReviewIn) -> Project:
    """Approve (the project is registered under the next registry number), reject, or request
    changes. Only an accredited verifier reviews, and the timeline names the accreditation.
    Of parallel reviews of one project, exactly one applies; the others answer 409."""
    grant = accreditation_for_decision(uow, verifier)
    project = _locked_project(uow, project_id)
    check_may_review(project.developer_user_id, verifier.user_id)
    action = REVIEW_ACTIONS[review.decision]
    after = next_project_state(project.state, action)
    if action is ProjectAction.APPROVE:
        registration = {"buffer_pct": check_buffer_pct(review.buffer_pct),
                        "approved_by_user_id": verifier.user_id,
                        "project_number": projects.next_project_number(uow.session),
                        "registered_at": utcnow()}
    else:
        if review.buffer_pct is not None:
            raise RuleViolation("buffer_pct", "buffer_pct is only set when approving")
        if not review.comments.strip():
            raise RuleViolation("comments", f"say why when you {review.decision.replace('_', ' ')}")
        registration = {}
    before = apply_transition(uow.session, project, action, after, **registration)
    append_step(uow.session, project.id, str(after), verifier, from_state=before, to_state=after,
                comments=review.comments, accreditation=grant)
    return project


def _locked_project(uow: UnitOfWork, project_id: str) -> Project:
    project = projects.lock_project(uow.session, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}", field="project_id", code="project-not-found")
    return project
