"""Retirements by holders, and the certificates every retirement gets (public JSON and PDF)."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tanhui_shared.service import SessionDep
from tanhui_shared.web.auth import CurrentUser
from tanhui_shared.web.idempotency import Idempotency
from tanhui_shared.web.problems import Problem
from tanhui_shared.web.quantities import WholeQuantity

from ..store.retirements import certificate_view, retire_from_account
from ..store.tables import Certificate, FiledReport
from .certificate_pdf import render_certificate
from .errors import insufficient
from .holdings import require_account

router = APIRouter(prefix="/api/v1", tags=["retirements"])


class RetirementRequest(BaseModel):
    quantity: WholeQuantity
    beneficiary: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=500)
    report_id: str | None = None  # an enterprise report this retirement neutralises
    project_id: str | None = None
    vintage: int | None = Field(default=None, ge=1000, le=9999)


@router.post("/retirements", status_code=201)
def retire(body: RetirementRequest, principal: CurrentUser, session: SessionDep,
           idem: Idempotency, request: Request):
    def do_it() -> dict[str, Any]:
        account = require_account(session, principal.user_id)
        if body.report_id is not None:
            report = session.get(FiledReport, body.report_id)
            # Not filed yet, or not the caller's: the same 404, so report ids cannot be probed.
            if report is None or principal.user_id not in json.loads(report.member_user_ids):
                raise Problem(404, f"no report {body.report_id!r} you may act for",
                              field="report_id")
        with insufficient():
            certificate = retire_from_account(
                session, account.id, body.quantity, beneficiary=body.beneficiary,
                purpose=body.purpose, retired_by_user_id=principal.user_id,
                project_id=body.project_id, vintage=body.vintage, report_id=body.report_id)
        return certificate_view(certificate, request.app.state.settings.public_base_url)

    return idem.execute(session, principal.user_id, do_it, status_code=201)


def _certificate(session, certificate_id: str) -> Certificate:  # noqa: ANN001
    certificate = session.get(Certificate, certificate_id)
    if certificate is None:
        raise Problem(404, f"no certificate {certificate_id}")
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
