"""Project filing, submission and design review: each runs inside the caller's transaction."""
from __future__ import annotations

from sqlalchemy import func, or_, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.web.auth import Principal
from tanhui_shared.web.problems import Problem

from ..domain.lifecycle import (REVIEW_ACTIONS, ProjectAction, ProjectState, next_project_state)
from ..domain.rules import RuleViolation, check_buffer_pct, check_crediting_years
from .tables import Project, RegistryCounter
from .timeline import append_step, attach_documents

# Roles that see every project whatever its state; anyone else sees registered projects (the
# public registry) and, for a developer, their own projects in any state.
OVERSEERS = frozenset({"verifier", "regulator", "admin"})

CERTIFICATE_FIELD = "forest_rights_certificate"


def _certificate_taken(certificate: str) -> Problem:
    return Problem(409, f"forest-rights certificate {certificate!r} is already used by another "
                   "active project", field=CERTIFICATE_FIELD)


def file_project(session: Session, developer: Principal, filing) -> Project:
    check_crediting_years(filing.kind, filing.crediting_years)
    taken = select(Project.id).where(Project.forest_rights_certificate == filing.forest_rights_certificate,
                                     Project.state != ProjectState.REJECTED)
    if session.exec(taken).first() is not None:
        raise _certificate_taken(filing.forest_rights_certificate)
    project = Project(**filing.model_dump(exclude={"documents"}), state=ProjectState.DRAFT,
                      developer_user_id=developer.user_id, developer_username=developer.username)
    session.add(project)
    try:  # a concurrent filing with the same certificate loses on the partial unique index
        session.flush()
    except IntegrityError:
        raise _certificate_taken(filing.forest_rights_certificate) from None
    attach_documents(session, project.id, filing.documents)
    append_step(session, project.id, "filed", developer, from_state=None, to_state=project.state)
    return project


def lock_project(session: Session, project_id: str) -> Project:
    """The project row, locked for this transaction (serialises transitions on PostgreSQL)."""
    project = session.exec(select(Project).where(Project.id == project_id).with_for_update()).first()
    if project is None:
        raise Problem(404, f"no project {project_id}", field="project_id")
    return project


def submit_project(session: Session, developer: Principal, project_id: str) -> Project:
    project = lock_project(session, project_id)
    if project.developer_user_id != developer.user_id:
        raise Problem(403, "only the project's developer may submit it")
    before = project.state
    project.state = next_project_state(before, ProjectAction.SUBMIT)
    append_step(session, project.id, "submitted", developer, from_state=before, to_state=project.state)
    return project


def review_project(session: Session, verifier: Principal, project_id: str, review) -> Project:
    project = lock_project(session, project_id)
    if project.developer_user_id == verifier.user_id:
        raise Problem(403, "a verifier may not review their own project (conflict of interest)")
    action = REVIEW_ACTIONS[review.decision]
    before = project.state
    after = next_project_state(before, action)
    if action is ProjectAction.APPROVE:
        project.buffer_pct = check_buffer_pct(review.buffer_pct)
        project.approved_by_user_id = verifier.user_id
        project.project_number = _next_project_number(session)
        project.registered_at = utcnow()
    else:
        if review.buffer_pct is not None:
            raise RuleViolation("buffer_pct", "buffer_pct is only set when approving")
        if not review.comments.strip():
            raise RuleViolation("comments", f"say why when you {review.decision.replace('_', ' ')}")
    project.state = after
    append_step(session, project.id, str(after), verifier, from_state=before, to_state=after,
                comments=review.comments)
    return project


def _next_project_number(session: Session) -> int:
    counter = session.exec(select(RegistryCounter).where(RegistryCounter.name == "project_number")
                           .with_for_update()).one()
    counter.value += 1
    return counter.value


def visible_to(viewer: Principal | None):
    """The SQL condition for the projects `viewer` may see (None: an anonymous caller)."""
    if viewer is not None and viewer.role in OVERSEERS:
        return true()
    public = Project.state == ProjectState.REGISTERED
    if viewer is None:
        return public
    return or_(public, Project.developer_user_id == viewer.user_id)


def find_visible_project(session: Session, viewer: Principal | None, project_id: str) -> Project:
    project = session.exec(select(Project).where(Project.id == project_id,
                                                 visible_to(viewer))).first()
    if project is None:  # hidden projects answer like missing ones: their existence is private
        raise Problem(404, f"no project {project_id}", field="project_id")
    return project


def list_projects(session: Session, viewer: Principal | None, *, state: str | None,
                  county: str | None, kind: str | None, limit: int,
                  offset: int) -> tuple[list[Project], int]:
    conditions = [visible_to(viewer)]
    if state is not None:
        conditions.append(Project.state == state)
    if county is not None:
        conditions.append(Project.county == county)
    if kind is not None:
        conditions.append(Project.kind == kind)
    total = session.exec(select(func.count()).select_from(Project).where(*conditions)).one()
    page = session.exec(select(Project).where(*conditions)
                        .order_by(Project.created_at, Project.id).limit(limit).offset(offset))
    return list(page), total


def awaiting_review(session: Session, verifier: Principal) -> list[Project]:
    query = select(Project).where(Project.state == ProjectState.SUBMITTED,
                                  Project.developer_user_id != verifier.user_id)
    return list(session.exec(query.order_by(Project.created_at, Project.id)))
