"""Projects: filing, submission, design review, listing and the project's page with its timeline."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tanhui_shared.errors import Invalid, NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.problems import Problem

from ..domain.lifecycle import ProjectState
from ..domain.rules import ProjectKind
from ..store import projects as queries
from ..usecases import projects
from ..usecases.commands import ProjectEdit, ProjectFiling, ReviewIn, WithdrawalIn
from .deps import Developer, ProjectId, TextFilter, Verifier, Viewer
from .schemas import ProjectDetail, ProjectPage, ProjectView
from .views import project_detail, project_view

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

@router.post("", status_code=201, response_model=ProjectView)
def file_project(body: ProjectFiling, developer: Developer, session: SessionDep,
                 idem: Idempotency) -> JSONResponse:
    def operation(uow: UnitOfWork) -> ProjectView:
        return project_view(projects.file_project(uow, developer, body))

    return idem.execute(session, developer.user_id, operation, status_code=201)


@router.post("/{project_id}/submit", response_model=ProjectView)
def submit_project(project_id: ProjectId, developer: Developer, session: SessionDep,
                   idem: Idempotency) -> JSONResponse:
    def operation(uow: UnitOfWork) -> ProjectView:
        return project_view(projects.submit_project(uow, developer, project_id))

    return idem.execute(session, developer.user_id, operation)


@router.patch("/{project_id}", response_model=ProjectView)
def edit_project(project_id: ProjectId, body: ProjectEdit, developer: Developer,
                 session: SessionDep, idem: Idempotency) -> JSONResponse:
    """Edit a draft, or a filing the reviewer sent back (changes_requested), then submit it
    again; the edited filing must pass the same rules as a new one."""
    def operation(uow: UnitOfWork) -> ProjectView:
        return project_view(projects.edit_project(uow, developer, project_id, body))

    return idem.execute(session, developer.user_id, operation)


@router.post("/{project_id}/withdraw", response_model=ProjectView)
def withdraw_project(project_id: ProjectId, developer: Developer, session: SessionDep,
                     idem: Idempotency, body: WithdrawalIn | None = None) -> JSONResponse:
    """Withdraw a project not yet registered or rejected: `withdrawn` is final."""
    def operation(uow: UnitOfWork) -> ProjectView:
        return project_view(projects.withdraw_project(uow, developer, project_id,
                                                      body or WithdrawalIn()))

    return idem.execute(session, developer.user_id, operation)


@router.post("/{project_id}/reviews", status_code=201, response_model=ProjectView)
def review_project(project_id: ProjectId, body: ReviewIn, verifier: Verifier,
                   session: SessionDep, idem: Idempotency) -> JSONResponse:
    def operation(uow: UnitOfWork) -> ProjectView:
        return project_view(projects.review_project(uow, verifier, project_id, body))

    return idem.execute(session, verifier.user_id, operation, status_code=201)


@router.get("", response_model=ProjectPage)
def list_projects(session: SessionDep, viewer: Viewer,
                  state: ProjectState | None = None, county: TextFilter = None,
                  kind: ProjectKind | None = None,
                  status: Annotated[ProjectState | None, Query(
                      description="the same as state (the console's name for it)")] = None,
                  mine: Annotated[bool, Query(description="only the caller's own filings")] = False,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ProjectPage:
    """Anonymous callers and most roles see registered projects; a developer also sees their own
    in any state; verifiers, regulators and admins see every project. `mine=true`: the caller's
    own filings only (a token is needed)."""
    if mine and viewer is None:
        raise Problem(401, "mine=true lists the caller's own projects: send a token",
                      code="token-required", field="mine", headers={"WWW-Authenticate": "Bearer"})
    if state is not None and status is not None and state != status:
        raise Invalid("state and status name the same filter: send one", field="status",
                      code="conflicting-filters")
    page, total = queries.list_projects(session, viewer, state=state or status, county=county,
                                        kind=kind, limit=limit, offset=offset, mine=mine)
    return ProjectPage(items=[project_view(p) for p in page], total=total, limit=limit,
                       offset=offset)


@router.get("/{project_id}", response_model=ProjectDetail)
def get_project(project_id: ProjectId, session: SessionDep, viewer: Viewer) -> ProjectDetail:
    project = queries.visible_project(session, viewer, project_id)
    if project is None:  # hidden projects answer like missing ones: their existence is private
        raise NotFound(f"no project {project_id}", field="project_id", code="project-not-found")
    return project_detail(session, project)
