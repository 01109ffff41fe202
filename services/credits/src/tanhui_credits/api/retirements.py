"""Retirements by holders, and the certificates every retirement gets (public JSON and PDF)."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from tanhui_shared.errors import NotFound
from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.models import ApiModel
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.quantities import WholeQuantity

from ..store.lists import certificates_of, retirements_by
from ..store.retirements import certificate_view
from ..store.tables import Certificate
from ..usecases.retirements import retire_credits
from .certificate_pdf import CertificateFontMissing, render_certificate
from .pages import Limit, Offset, only_mine, page

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
        vintage=body.vintage, last=idem.key is None), base_url), status_code=201)


@router.get("/retirements")
def my_retirements(principal: CurrentUser, session: SessionDep, mine: bool = True,
                   limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """The retirements the caller made, newest first, each with its certificate's id."""
    only_mine(mine)
    rows, total = retirements_by(session, principal.user_id, limit, offset)
    return page([{"retirement_id": r.id, "certificate_id": r.certificate_id,
                  "beneficiary": r.beneficiary, "purpose": r.purpose, "quantity": r.quantity,
                  "report_id": r.report_id, "event_id": r.event_id, "retired_at": r.retired_at}
                 for r in rows], total, limit, offset)


@router.get("/certificates", tags=["retirements"])
def my_certificates(principal: CurrentUser, session: SessionDep, mine: bool = True,
                    limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """The certificates of the caller's retirements and of the caller's redemptions (which the
    city's pool retires in the citizen's name), newest first."""
    only_mine(mine)
    rows, total = certificates_of(session, principal.user_id, limit, offset)
    items = []
    for row in rows:
        fields = json.loads(row.fields)
        items.append({"certificate_id": row.id, "beneficiary": fields["beneficiary"],
                      "quantity": fields["quantity"], "retired_at": fields["retired_at"],
                      "purpose": fields["purpose"], "report_id": fields.get("report_id"),
                      "event_id": fields.get("event_id"),
                      "redemption_id": fields.get("redemption_id"),
                      "content_hash": row.content_hash})
    return page(items, total, limit, offset)


def _certificate(session, certificate_id: str) -> Certificate:  # noqa: ANN001
    certificate = session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound(f"no certificate {certificate_id}", code="certificate-not-found")
    return certificate


@router.get("/certificates/{certificate_id}", tags=["public registry"])
def certificate(certificate_id: str, session: SessionDep, request: Request) -> dict[str, Any]:
    return certificate_view(_certificate(session, certificate_id),
                            request.app.state.settings.public_base_url)


@router.get("/certificates/{certificate_id}/pdf", tags=["public registry"],
            response_class=Response)
def certificate_pdf(certificate_id: str, session: SessionDep, request: Request) -> Response:
    settings = request.app.state.settings
    view = certificate_view(_certificate(session, certificate_id), settings.public_base_url)
    try:
        pdf = render_certificate(view, settings.certificate_font_path,
                                 settings.certificate_font_index)
    except CertificateFontMissing as missing:  # the JSON still answers; only the PDF waits
        raise Problem(503, str(missing), code="certificate-font-missing") from None
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="certificate-{certificate_id}.pdf"'})
