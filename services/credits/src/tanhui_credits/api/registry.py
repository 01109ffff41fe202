"""The public registry: no login. Totals, block search, a serial's lineage, the audit chain."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Query

from tanhui_shared.service import SessionDep
from tanhui_shared.errors import Invalid, NotFound

from ..domain.serials import SerialBlock, parse_range
from ..store.audit import verify_chain
from ..store.reconcile import registry_discrepancies
from ..store.registry import (block_page, blocks_view, cancelled_blocks, compensation_page,
                              compensation_view, lineage)
from ..store.totals import project_totals
from ..store.pooling import pool_summary
from ..store.tables import BufferCompensation
from ..usecases.pooled_redemptions import POOL_BENEFICIARY, POOL_PURPOSE
from .pages import After, Limit, Offset, decode_after, keyset_page

router = APIRouter(prefix="/api/v1/registry", tags=["public registry"])


def _serial(text: str, field: str) -> SerialBlock:
    try:
        return parse_range(text)
    except ValueError as exc:
        raise Invalid(str(exc), field=field, code="invalid-serial") from None


@router.get("/projects")
def projects(session: SessionDep) -> list[dict[str, Any]]:
    """issued, held, retired and buffer credits per project and vintage (from the rollup the
    registry's writes keep, not a scan)."""
    return project_totals(session)


def _block_key(key: list) -> bool:
    return len(key) == 2 and all(type(k) is int and 0 <= k < 2**31 for k in key)


@router.get("/blocks")
def blocks(session: SessionDep, serial: str | None = Query(default=None),
           project_id: str | None = Query(default=None), limit: Limit = 50, offset: Offset = 0,
           after: After = None) -> dict[str, Any]:
    """Current (active, retired or cancelled) blocks holding any serial of `serial` (a serial
    or a range), or every current block of a project: one page by vintage and first serial,
    with the total. Page on with `after` = the previous page's `next`."""
    key = decode_after(after, offset, _block_key)
    after_key = None if key is None else (key[0], key[1])
    if serial:
        found = block_page(session, serial=_serial(serial, "serial"), limit=limit, offset=offset,
                           after=after_key)
    elif project_id:
        found = block_page(session, project_id=project_id, limit=limit, offset=offset,
                           after=after_key)
    else:
        raise Invalid("give serial or project_id", field="serial",
                      code="serial-or-project-required")
    total, rows, last = found
    return keyset_page(blocks_view(session, rows), total, limit, offset,
                       None if last is None else list(last))


@router.get("/serials/{serial}")
def serial_lineage(serial: str, session: SessionDep) -> dict[str, Any]:
    found = lineage(session, _serial(serial, "serial"))
    if found is None:
        raise NotFound(f"serial {serial} was never issued", field="serial", code="serial-not-found")
    return found


def _compensation_key(key: list) -> bool:
    if len(key) != 2 or not all(isinstance(k, str) and k and "\x00" not in k for k in key):
        return False
    try:
        return datetime.fromisoformat(key[0]).tzinfo is not None
    except ValueError:
        return False


@router.get("/compensations")
def list_compensations(session: SessionDep,
                       project_id: str | None = Query(default=None, max_length=200,
                                                      pattern=r"^[^\x00]*$"),
                       limit: Limit = 50, offset: Offset = 0, after: After = None
                       ) -> dict[str, Any]:
    """Every verified loss compensated, oldest first, with what the buffer pool and the
    developer gave and the shortfall neither could cover: one page with the total. Page on
    with `after` = the previous page's `next`."""
    key = decode_after(after, offset, _compensation_key)
    total, rows, last = compensation_page(
        session, project_id, limit=limit, offset=offset,
        after=None if key is None else (datetime.fromisoformat(key[0]), key[1]))
    return keyset_page([compensation_view(row) for row in rows], total, limit, offset,
                       None if last is None else [last[0].isoformat(), last[1]])


@router.get("/compensations/{loss_id}")
def get_compensation(session: SessionDep,
                     loss_id: str = Path(max_length=200, pattern=r"^[^\x00]*$")
                     ) -> dict[str, Any]:
    """One loss's compensation with the blocks it cancelled."""
    row = session.get(BufferCompensation, loss_id)
    if row is None:
        raise NotFound(f"no compensation for loss {loss_id}", field="loss_id",
                       code="compensation-not-found")
    return {**compensation_view(row),
            "blocks": blocks_view(session, cancelled_blocks(session, loss_id))}


@router.get("/inclusion-pool")
def inclusion_pool(session: SessionDep) -> dict[str, Any]:
    """The serials the city's inclusion pool retired ahead for citizens' redemptions: kg
    allocated to citizens, kg still the city's, and each serial with kg left to allocate."""
    return {"beneficiary": POOL_BENEFICIARY, "purpose": POOL_PURPOSE,
            **pool_summary(session, POOL_BENEFICIARY)}


@router.get("/audit/verify")
def verify_audit_chain(session: SessionDep) -> dict[str, Any]:
    """The hash chain (intact) and the balances recomputed from the blocks (balanced): issued =
    held + retired + buffer per project and vintage, no live overlap, listings and retirements
    that match their blocks. ok only when both hold."""
    chain = verify_chain(session)
    discrepancies = registry_discrepancies(session)
    return {**chain, "balanced": not discrepancies, "discrepancies": discrepancies,
            "ok": chain["intact"] and not discrepancies}
