"""Queries on projects and the registry counter. No rules here: callers decide what a missing
row or a taken certificate means."""
from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, true
from sqlmodel import Session, col, select

from tanhui_shared.web.auth import Principal

from ..domain.lifecycle import CLOSED_STATES, ProjectState
from .tables import Project, RegistryCounter

# Roles that see every project whatever its state; anyone else sees registered projects (the
# public registry) and, for a developer, their own projects in any state.
OVERSEERS = frozenset({"verifier", "regulator", "admin"})


def lock_project(session: Session, project_id: str) -> Project | None:
    """The project row, locked until the transaction ends: its transitions and its reports'
    filings queue up here. FOR NO KEY UPDATE still lets rows that reference it be inserted."""
    query = select(Project).where(Project.id == project_id).with_for_update(key_share=True)
    return session.exec(query).first()


def certificate_in_use(session: Session, certificate_key: str,
                       other_than: str | None = None) -> bool:
    """Whether an active project (other than `other_than`: the one being edited) holds the
    certificate with this normalized key."""
    taken = select(Project.id).where(Project.forest_rights_certificate_key == certificate_key,
                                     col(Project.state).not_in([str(s) for s in CLOSED_STATES]))
    if other_than is not None:
        taken = taken.where(Project.id != other_than)
    return session.exec(taken).first() is not None


def next_project_number(session: Session) -> int:
    """The next registry number; the counter row stays locked until the approval commits, so
    numbers are gap-free and follow the order of approvals."""
    counter = session.exec(select(RegistryCounter).where(RegistryCounter.name == "project_number")
                           .with_for_update()).one()
    counter.value += 1
    return counter.value


def visible_to(viewer: Principal | None) -> ColumnElement[bool]:
    """The SQL condition for the projects `viewer` may see (None: an anonymous caller)."""
    if viewer is not None and viewer.role in OVERSEERS:
        return true()
    public = Project.state == ProjectState.REGISTERED
    if viewer is None:
        return public
    return or_(public, Project.developer_user_id == viewer.user_id)


def visible_project(session: Session, viewer: Principal | None, project_id: str) -> Project | None:
    """None for a missing project and for one hidden from `viewer` alike: a draft's existence
    is private."""
    return session.exec(select(Project).where(Project.id == project_id,
                                              visible_to(viewer))).first()


def list_projects(session: Session, viewer: Principal | None, *, state: str | None,
                  county: str | None, kind: str | None, limit: int,
                  offset: int, mine: bool = False) -> tuple[list[Project], int]:
    """`mine`: only the viewer's own filings (the caller checked there is a viewer)."""
    conditions = [visible_to(viewer)]
    if mine and viewer is not None:
        conditions.append(Project.developer_user_id == viewer.user_id)
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
