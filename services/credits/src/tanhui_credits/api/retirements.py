"""Retirements by holders, and the certificates every retirement gets (public JSON and PDF)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.quantities import WholeQuantity

from ..store.retirements import certificate_view
from ..store.tables import Certificate
from ..usecases.retirements import retire_credits
from .certificate_pdf import render_certificate

router = APIRouter(prefix="/api/v1", tags=["retirements"])


class RetirementRequest(ApiModel):
    quantity: WholeQuantity
    beneficiary: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=500)
    report_id: str | None = Field(default=None, max_length=200, description=(
        "an enterprise report the caller acts for, its period's current revision: a revision a "
        "correction has superseded is 409 naming the current one"))
    project_id: str | None = Field(default=None, max_length=200)
    vintage: int | None = Field(default=None, ge=1000, le=9999)


@router.post("/retirements", status_code=201)
def retire(body: RetirementRequest, principal: CurrentUser, session: SessionDep,
           idem: Idempotency, request: Request):
    base_url = request.app.state.settings.public_base_url
    return idem.execute(session, principal.user_id, lambda uow: certificate_view(retire_credits(
        uow, principal.user_id, body.quantity, beneficiary=body.beneficiary,
        purpose=body.purpose, report_id=body.report_id, project_id=body.project_id,
        vintage=body.vintage), base_url), status_code=201)


def _certificate(session, certificate_id: str) -> Certificate:  # noqa: ANN001
    certificate = session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound(f"no certificate {certificate_id}")
    return certificate


@router.get("/certificates/{certificate_id}", tags=["public registry"])
def certificate(certificate_id: str, session: SessionDep, request: Request) -> dict[str, Any]:
    return certificate_view(_certificate(session, certificate_id),
                            request.app.state.settings.public_base_url)


@router.get("/certificates/{certificate_id}/pdf", tags=["public registry"],
            response_class=Response)
def certificate_pdf(certificate_id: str, session: SessionDep, request: Request) -> Response:
    view = certificate_view(_certificate(session, certificate_id),
                            request.app.state.settings.public_base_url)
    return Response(render_certificate(view), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="certificate-{certificate_id}.pdf"'})
