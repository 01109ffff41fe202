"""Retirements by holders, and citizens' redemptions retired from the city's inclusion pool."""
from __future__ import annotations

import json

from tanhui_shared.contracts import (CreditsRetired, RedemptionCompleted, RedemptionRejected,
                                     RedemptionRequested)
from tanhui_shared.errors import NotFound
from tanhui_shared.messaging.outbox import outbox_row, utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.hashing import canonical_json
from ..domain.reports import ReportSuperseded
from ..domain.serials import REGISTRY, UNIT_TYPE, InsufficientCredits
from ..store import blocks as block_moves
from ..store.accounts import INCLUSION_POOL_ID, lock_account
from ..store.audit import chain_after_commit
from ..store.retirements import retire_blocks
from ..store.reports import current_revision, report_for_retirement
from ..store.spread_retirement import NoAccount, Short, WrittenCertificate, retire_in_one_call
from ..store.tables import Block, Certificate, Redemption, Retirement, new_id
from .common import _JOURNAL as JOURNAL  # noqa: PLC2701 - whether this unit journals
from .common import journal, opened

REDEMPTION_PURPOSE = "carbon inclusion redemption"


def certify_retirement(uow: UnitOfWork, rows: list[Block], *, account_id: str, beneficiary: str,
                       purpose: str, retired_by_user_id: str | None, report_id: str | None = None,
                       event_id: str | None = None, redemption_id: str | None = None
                       ) -> Certificate:
    """Retire these whole blocks (carved and locked by the caller), certify it, and publish
    CreditsRetired: every way of retiring ends here."""
    retirement, certificate, fields = retire_blocks(
        uow.session, journal(uow), rows, account_id=account_id, beneficiary=beneficiary,
        purpose=purpose, retired_by_user_id=retired_by_user_id, report_id=report_id,
        event_id=event_id, redemption_id=redemption_id)
    # one statement for both at the end (a unique redemption_id stops the unit of work there);
    # a use case that must reference the retirement before then calls uow.flush()
    uow.insert_rows(Retirement.__table__, [vars(retirement)])
    uow.insert_last(certificate)
    uow.emit(CreditsRetired(
        retirement_id=retirement.id, certificate_id=certificate.id,
        retired_by_user_id=retired_by_user_id, beneficiary=beneficiary, purpose=purpose,
        quantity=retirement.quantity, serial_ranges=fields["serials"], report_id=report_id,
        event_id=event_id, redemption_id=redemption_id, retired_at=retirement.retired_at))
    return certificate


def _retire_from_account(uow: UnitOfWork, account_id: str, quantity: int, *,
                         project_id: str | None = None, vintage: int | None = None,
                         **certified: str | None) -> Certificate:
    """The caller holds the account's lock: debits of one account queue there."""
    rows = block_moves.spendable_blocks(uow.session, account_id, project_id, vintage)
    chosen = block_moves.take(uow.session, journal(uow), rows, quantity)
    return certify_retirement(uow, chosen, account_id=account_id, **certified)


def retire_credits(uow: UnitOfWork, user_id: str, quantity: int, *, beneficiary: str,
                   purpose: str, report_id: str | None = None, project_id: str | None = None,
                   vintage: int | None = None, last: bool = True
                   ) -> Certificate | WrittenCertificate:
    """Retire the caller's spendable credits, optionally against an enterprise report the caller
    may act for, and then only its period's current revision (ReportSuperseded otherwise).
    A retirement racing a revision: whichever locks the report first wins. Either the
    retirement commits against the revision it named, and accounts counts it for the period
    (retirements follow revisions there), or the revision commits first and the retirement is
    refused. Raises InsufficientCredits or ReportSuperseded, writing nothing.

    Without a report (the common case) the retirement is one statement
    (store/spread_retirement.py). `last`: nothing is written after this in the unit of work,
    so that statement carries the COMMIT; a caller that writes more afterwards (an
    idempotency record) passes False."""
    if report_id is None:
        return retire_in_one_statement(uow, user_id, quantity, beneficiary=beneficiary,
                                       purpose=purpose, project_id=project_id, vintage=vintage,
                                       commit=last)
    return retire_by_block_moves(uow, user_id, quantity, beneficiary=beneficiary,
                                 purpose=purpose, report_id=report_id, project_id=project_id,
                                 vintage=vintage)


def retire_by_block_moves(uow: UnitOfWork, user_id: str, quantity: int, *, beneficiary: str,
                          purpose: str, report_id: str | None = None,
                          project_id: str | None = None, vintage: int | None = None
                          ) -> Certificate:
    """The general path: the registry's block moves, statement by statement (see
    retire_credits); the one-statement path writes what this writes
    (tests/test_spread_retirement.py)."""
    session = uow.session
    # debits of one account queue at its lock; its spendable blocks are read after it, in one
    # call (the report, share-locked below, is locked by no debit: the order is free)
    account_id, rows = block_moves.lock_spendable_blocks(session, user_id, project_id, vintage)
    if account_id is None:
        opened(None)  # NoHoldingAccount
    if report_id is not None:
        report = report_for_retirement(session, report_id)  # share-locked: see there
        # Not filed yet, or not the caller's: the same 404, so report ids cannot be probed.
        if report is None or user_id not in json.loads(report.member_user_ids):
            raise NotFound(f"no report {report_id!r} you may act for", field="report_id",
                           code="report-not-found")
        if not report.is_current:
            current = current_revision(session, report.enterprise_id, report.period)
            raise ReportSuperseded(report.id, report.revision, report.period,
                                   current.id if current else None,
                                   current.revision if current else None)
    chosen = block_moves.take(session, journal(uow), rows, quantity)
    return certify_retirement(uow, chosen, account_id=account_id, beneficiary=beneficiary,
                              purpose=purpose, retired_by_user_id=user_id, report_id=report_id)


def retire_in_one_statement(uow: UnitOfWork, user_id: str, quantity: int, *, beneficiary: str,
                            purpose: str, project_id: str | None, vintage: int | None,
                            commit: bool) -> WrittenCertificate:
    """retire_credits without a report, by one statement: every row it writes is prepared
    here first, what depends on the serials as placeholders the statement fills in."""
    moment = utcnow()
    now, mark = moment.isoformat(), new_id()
    retirement_id, certificate_id = new_id(), new_id()
    split_entry, retire_entry = new_id(), new_id()
    # store/retirements.certificate_fields, serials and projects filled in by the statement
    certificate = canonical_json({
        "certificate_id": certificate_id, "retirement_id": retirement_id,
        "beneficiary": beneficiary, "purpose": purpose, "quantity": quantity,
        "serials": [f"@@{mark}:serials@@"], "projects": [f"@@{mark}:projects@@"],
        "retired_at": now, "report_id": None, "event_id": None, "redemption_id": None})
    envelope, outbox = outbox_row(CreditsRetired(
        retirement_id=retirement_id, certificate_id=certificate_id,
        retired_by_user_id=user_id, beneficiary=beneficiary, purpose=purpose,
        quantity=quantity, serial_ranges=[f"@@{mark}:serials@@"], retired_at=moment))

    def entry(entry_id: str, kind: str, details: object) -> str:  # as store/audit.Journal
        return canonical_json({"entry_id": entry_id, "kind": kind, "recorded_at": now,
                               "details": details})

    params = {
        "owner": user_id, "quantity": quantity, "project_id": project_id, "vintage": vintage,
        "retirement_id": retirement_id, "certificate_id": certificate_id,
        "beneficiary": beneficiary, "purpose": purpose, "retired_at": now, "created_at": now,
        "mark": mark, "serial_prefix": f"{REGISTRY}-{UNIT_TYPE}", "split_entry": split_entry,
        "retire_entry": retire_entry, "certificate": certificate,
        "split_body": entry(split_entry, "split", f"@@{mark}:split@@"),
        # store/blocks.retire's details
        "retire_body": entry(retire_entry, "retire", {
            "retirement_id": retirement_id, "account_id": f"@@{mark}:account@@",
            "quantity": quantity, "blocks": [f"@@{mark}:retired@@"],
            "beneficiary": beneficiary, "purpose": purpose, "report_id": None,
            "event_id": None, "redemption_id": None}),
        "outbox_event_id": outbox["event_id"], "outbox_topic": outbox["topic"],
        "outbox_key": outbox["key"], "envelope": outbox["envelope"]}
    # anything this unit staged or journaled before goes first, and then the COMMIT may not
    # come with the retirement: the unit of work writes its journal just before committing
    uow.flush()
    commit = commit and JOURNAL not in uow.extras
    try:
        fields, content_hash, sequenced = retire_in_one_call(uow.session, params,
                                                             commit=commit)
    except NoAccount:
        opened(None)  # NoHoldingAccount
        raise
    except Short as short:
        raise InsufficientCredits(quantity, short.available) from short
    # its audit entries chained by a pass after its commit (see retire_in_one_call), unless it
    # committed with the unit of work
    if not sequenced:
        engine = uow.session.get_bind()
        uow.after_commit(lambda: chain_after_commit(engine))
    envelope.data["serial_ranges"] = json.loads(fields)["serials"]
    uow.events.append(envelope)
    return WrittenCertificate(id=certificate_id, retirement_id=retirement_id, fields=fields,
                              content_hash=content_hash)


def redeem_from_inclusion_pool(uow: UnitOfWork, request: RedemptionRequested) -> Redemption:
    """Retire from the city's pool in the citizen's name, or reject: once per redemption_id."""
    session = uow.session
    # The pool first: the same redemption delivered twice at once queues here, and the second
    # then finds the first one's settlement.
    lock_account(session, INCLUSION_POOL_ID)
    settled = session.get(Redemption, request.redemption_id)
    if settled is not None:
        return settled  # a redelivery under another envelope: the business key absorbs it
    try:
        certificate = _retire_from_account(
            uow, INCLUSION_POOL_ID, request.quantity, beneficiary=request.username,
            purpose=REDEMPTION_PURPOSE, retired_by_user_id=None,
            redemption_id=request.redemption_id)
    except InsufficientCredits as short:  # raised before anything is written
        reason = (f"the city inclusion pool holds {short.available} credits, "
                  f"{request.quantity} requested")
        redemption = Redemption(id=request.redemption_id, user_id=request.user_id,
                                quantity=request.quantity, status="rejected", reason=reason)
        session.add(redemption)
        uow.emit(RedemptionRejected(redemption_id=request.redemption_id, user_id=request.user_id,
                                    reason=reason))
        return redemption
    redemption = Redemption(id=request.redemption_id, user_id=request.user_id,
                            quantity=request.quantity, status="completed",
                            certificate_id=certificate.id)
    session.add(redemption)
    uow.emit(RedemptionCompleted(redemption_id=request.redemption_id, user_id=request.user_id,
                                 quantity=request.quantity, certificate_id=certificate.id))
    return redemption
