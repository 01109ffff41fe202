"""Retirements: close blocks for good and record the certificate that states what was retired."""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from tanhui_shared.messaging.outbox import utcnow

from ..domain.hashing import HASH_RECIPE, canonical_json, certificate_hash
from . import blocks as block_moves
from .audit import Journal
from .tables import Block, Certificate, Retirement, new_id


_RETIREMENT_COLUMNS = {c.name for c in Retirement.__table__.c}


def retire_blocks(session: Session, journal: Journal, rows: list[Block], *, account_id: str,
                  beneficiary: str, purpose: str, retired_by_user_id: str | None,
                  report_id: str | None = None, event_id: str | None = None,
                  redemption_id: str | None = None
                  ) -> tuple[SimpleNamespace, Certificate, dict]:
    """Retire exactly these whole blocks (already carved and locked) and certify it.
    Returns the retirement (its columns' values), its certificate and the certified fields;
    the caller writes the retirement and the certificate (with its unit of work's last writes:
    nothing reads them back in the same transaction)."""
    # the retirement's columns as plain values (written by the unit's last INSERT, read by no
    # one before): building a table model cost more Python than the certificate's fields
    retirement = SimpleNamespace(
        id=new_id(), account_id=account_id, retired_by_user_id=retired_by_user_id,
        beneficiary=beneficiary, purpose=purpose, quantity=sum(r.quantity for r in rows),
        report_id=report_id, event_id=event_id, redemption_id=redemption_id,
        certificate_id=new_id(), retired_at=utcnow())
    assert vars(retirement).keys() == _RETIREMENT_COLUMNS
    block_moves.retire(session, journal, rows, retirement.id, beneficiary=beneficiary,
                       purpose=purpose, report_id=report_id, event_id=event_id,
                       redemption_id=redemption_id)
    fields = certificate_fields(session, retirement, rows)
    certificate = Certificate(id=retirement.certificate_id, retirement_id=retirement.id,
                              fields=canonical_json(fields), content_hash=certificate_hash(fields))
    return retirement, certificate, fields


def certificate_fields(session: Session, retirement: Retirement | SimpleNamespace,
                       rows: list[Block]
                       ) -> dict[str, Any]:
    """What a certificate states; content_hash is the sha256 of exactly this, canonicalised."""
    ordered = sorted(rows, key=lambda r: (r.project_number, r.vintage, r.first))
    names = block_moves.project_names(session, {r.project_id for r in rows})
    projects: dict[tuple[str, int], dict[str, Any]] = {}
    for row in ordered:
        entry = projects.setdefault((row.project_id, row.vintage), {
            "project_id": row.project_id, "project_number": row.project_number,
            "project_name": names.get(row.project_id, ""), "vintage": row.vintage, "quantity": 0})
        entry["quantity"] += row.quantity
    return {
        "certificate_id": retirement.certificate_id,
        "retirement_id": retirement.id,
        "beneficiary": retirement.beneficiary,
        "purpose": retirement.purpose,
        "quantity": retirement.quantity,
        "serials": [block_moves.serial_range(r) for r in ordered],
        "projects": list(projects.values()),
        "retired_at": retirement.retired_at.isoformat(),
        "report_id": retirement.report_id,
        "event_id": retirement.event_id,
        "redemption_id": retirement.redemption_id,
    }


def certificate_view(certificate: Certificate, public_base_url: str) -> dict[str, Any]:
    """The public certificate: its certified fields, their hash and how to recompute it, and
    where to check it. verification_url is the console's page (what the QR code opens);
    json_url and pdf_url are this document and its PDF."""
    api = f"{public_base_url}/api/v1/certificates/{certificate.id}"
    return {**json.loads(certificate.fields), "content_hash": certificate.content_hash,
            "hash_recipe": HASH_RECIPE,
            "verification_url": f"{public_base_url}/console/#/verify/{certificate.id}",
            "json_url": api, "pdf_url": f"{api}/pdf"}
