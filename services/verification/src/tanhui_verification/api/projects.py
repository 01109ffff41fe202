"""Projects: filing, submission, design review, listing and the project's page with its timeline."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import UnitOfWork
from tanhui_shared.web.idempotency import Idempotency

from ..domain.lifecycle import ProjectState
from ..domain.rules import ProjectKind
from ..store import projects as queries
from ..usecases import projects
from ..usecases.commands import ProjectFiling, ReviewIn
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
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ProjectPage:
    """Anonymous callers and most roles see registered projects; a developer also sees their own
    in any state; verifiers, regulators and admins see every project."""
    page, total = queries.list_projects(session, viewer, state=state, county=county, kind=kind,
                                        limit=limit, offset=offset)
    return ProjectPage(items=[project_view(p) for p in page], total=total, limit=limit,
                       offset=offset)


@router.get("/{project_id}", response_model=ProjectDetail)
def get_project(project_id: ProjectId, session: SessionDep, viewer: Viewer) -> ProjectDetail:
    project = queries.visible_project(session, viewer, project_id)
    if project is None:  # hidden projects answer like missing ones: their existence is private
        raise NotFound(f"no project {project_id}", field="project_id")
    return project_detail(session, project)
