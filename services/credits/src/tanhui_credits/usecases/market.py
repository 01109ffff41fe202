"""Listings (credits reserved for sale), large events, and offsets: buy from listings, retire."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tanhui_shared.contracts import CreditsRetired
from tanhui_shared.errors import Forbidden, Invalid, NotFound
from tanhui_shared.messaging.outbox import outbox_row, utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.event_estimate import EventActivity, estimate
from ..domain.event_trueup import check_actuals_may_be_filed, neutrality, offset_quantity
from ..domain.hashing import canonical_json
from ..domain.serials import REGISTRY, UNIT_TYPE, InsufficientCredits
from ..store import blocks as block_moves
from ..store.audit import chain_after_commit
from ..store.hot_listing import ListingShort, sell_and_retire
from ..store.market import (cancel, latest_accounting, lock_event, lock_listing, offset_context,
                            read_event, retired_for_event, sell_cheapest)
from ..store.spread_retirement import WrittenCertificate
from ..store.market_tables import EventAccounting, LargeEvent, Listing, ListingStock, Payment
from ..store.tables import Certificate, new_id
from .common import _JOURNAL as JOURNAL  # noqa: PLC2701 - whether this unit journals
from .common import journal, opened, require_account
from .retirements import certify_retirement


def create_listing(uow: UnitOfWork, seller_user_id: str, quantity: int, price_per_tonne: Decimal,
                   *, project_id: str | None = None, vintage: int | None = None) -> Listing:
    """Reserve the credits for the listing: they move into blocks marked with its id, so no
    transfer or retirement can spend them while it is open, cut into its lanes (a large
    listing's purchases then run side by side, store/hot_listing.py). Raises
    InsufficientCredits."""
    session = uow.session
    # locked: the same queue as the seller's transfers and retirements
    seller = require_account(session, seller_user_id, lock=True)
    rows = block_moves.spendable_blocks(session, seller.id, project_id, vintage)
    moving = block_moves.take(session, journal(uow), rows, quantity)
    listing = Listing(seller_account_id=seller.id, seller_user_id=seller_user_id,
                      project_id=project_id, vintage=vintage, quantity=quantity,
                      price_per_tonne=price_per_tonne)
    listing.stock = ListingStock(quantity=quantity, remaining=quantity)
    session.add(listing)
    session.flush()
    block_moves.reassign(session, journal(uow), moving, seller.id, kind="reserve",
                         listing_id=listing.id, in_lanes=True)
    return listing


def cancel_listing(uow: UnitOfWork, seller_user_id: str, listing_id: str) -> Listing:
    """The seller withdraws an open listing: what it has left goes back to the seller's
    spendable holding. Cancelling twice, or after it sold out, is a Conflict."""
    session = uow.session
    # FOR UPDATE: waits for the offsets in flight (they hold it FOR KEY SHARE while they carve
    # its lanes) and holds off later ones, so no lane is carved while it is released
    listing = lock_listing(session, listing_id)
    if listing is None:
        raise NotFound(f"no listing {listing_id}", field="listing_id", code="listing-not-found")
    if listing.seller_user_id != seller_user_id:
        raise Forbidden("only the seller can cancel a listing", field="listing_id",
                        code="not-the-seller")
    cancel(session, listing)  # first: a second canceller stops here, before touching blocks
    reserved = block_moves.listed_blocks(session, listing.id)
    block_moves.reassign(session, journal(uow), reserved, listing.seller_account_id,
                         kind="release", listing_id=None, from_listing_id=listing.id)
    return listing


def register_event(uow: UnitOfWork, organizer_user_id: str, *, name: str, start_date: date,
                   end_date: date, venue: str, attendees: int, activity: EventActivity,
                   submitted: str) -> LargeEvent:
    """Record a large event with its plan: the estimate from the planned activity
    (`submitted`: the activity as sent), each line priced with the factor valid on its dates."""
    result = estimate(activity, start_date, end_date)
    event = LargeEvent(organizer_user_id=organizer_user_id, name=name, start_date=start_date,
                       end_date=end_date, venue=venue, attendees=attendees, activity=submitted,
                       estimate=json.dumps(result.as_record()), total_tco2e=result.total_tco2e)
    uow.session.add(event)
    uow.session.flush()
    return event


def _organizers_event(session, organizer_user_id: str, event_id: str) -> LargeEvent:  # noqa: ANN001
    return _check_organizer(lock_event(session, event_id), organizer_user_id, event_id)


def _check_organizer(event: LargeEvent | None, organizer_user_id: str, event_id: str
                     ) -> LargeEvent:
    if event is None:
        raise NotFound(f"no event {event_id}", code="event-not-found")
    if event.organizer_user_id != organizer_user_id:
        raise Forbidden("only the event's organizer can do this", code="not-the-organizer")
    return event


def file_actuals(uow: UnitOfWork, organizer_user_id: str, event_id: str, *,
                 activity: EventActivity, submitted: str, today: date) -> EventAccounting:
    """The post-event accounting: once the event is over, its organizer files the actual
    activity data and the final figure is recomputed beside the plan, with every factor used.
    Filing again is a revision (the latest one counts; earlier ones stay on record)."""
    event = _organizers_event(uow.session, organizer_user_id, event_id)
    check_actuals_may_be_filed(event.end_date, today)
    result = estimate(activity, event.start_date, event.end_date)
    previous = latest_accounting(uow.session, event.id)
    accounting = EventAccounting(event_id=event.id, revision=previous.revision + 1 if previous
                                 else 1, activity=submitted,
                                 estimate=json.dumps(result.as_record()),
                                 total_tco2e=result.total_tco2e,
                                 filed_by_user_id=organizer_user_id)
    uow.session.add(accounting)
    uow.session.flush()  # a filing racing this one loses on uq_event_accounting_revision
    return accounting


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment as the one-statement purchase wrote it (its columns): a table model would
    do, but building one costs more Python than the rest of the answer."""

    id: str
    listing_id: str
    event_id: str
    seller_account_id: str
    seller_user_id: str
    buyer_user_id: str
    quantity: int
    price_per_tonne: Decimal
    amount: Decimal
    retirement_id: str
    created_at: datetime


@dataclass(frozen=True)
class Offset:
    event: LargeEvent
    quantity: int
    certificate: Certificate | WrittenCertificate
    payments: list[Payment] | list[Paid]


def offset_event(uow: UnitOfWork, organizer_user_id: str, event_id: str,
                 quantity: int | None = None, *, last: bool = True) -> Offset:
    """Buy credits from the cheapest listings and retire them in the event's name, all or
    nothing: `quantity`, else what is still uncovered (credits needed by the final figure, or
    the plan until there is one, minus those already retired for the event). Nothing uncovered
    and no quantity: NothingUncovered (409). Raises InsufficientCredits.

    The event's row lock comes first: concurrent default offsets of one event run one after
    the other, and each reads the retirements of those before it, so together they never
    retire more than is uncovered. An explicit quantity reads no retirements: it takes the
    lock shared (explicit offsets of one event run side by side, queueing only at the
    listings), which still keeps it and any default offset apart.

    An explicit quantity the cheapest listing covers (the common case) is one statement
    (store/hot_listing.py), which takes the event's lock itself. `last`: nothing is written
    after this in the unit of work, so that statement carries the COMMIT (the locks are then
    held only inside the server); a caller that writes more afterwards (an idempotency record)
    passes False."""
    session = uow.session
    if quantity is not None and quantity > 0:
        event = _described_event(session, event_id)
        if event is not None:
            _check_organizer(event, organizer_user_id, event_id)
            offset = offset_from_listing(uow, event, quantity, commit=last)
            if offset is not None:
                return offset
    found, account_id = offset_context(session, event_id, organizer_user_id,
                                       shared=quantity is not None)
    event = _check_organizer(found, organizer_user_id, event_id)
    if account_id is None:
        opened(None)  # NoHoldingAccount
    if quantity is None:  # what is uncovered: only then are the figures and retirements read
        final = latest_accounting(session, event.id)
        state = neutrality(json.loads(event.estimate)["credits_to_neutralise"],
                           json.loads(final.estimate)["credits_to_neutralise"] if final else None,
                           retired_for_event(session, event.id))
        quantity = offset_quantity(state, quantity)
    if quantity <= 0:
        raise Invalid("the estimate is zero: give a quantity", field="quantity",
                      code="zero-estimate")
    return offset_from_cheapest(uow, event, account_id, quantity)


# Events as registered (never changed after), by id: an offset prepares its documents from the
# event's name, dates and venue, and its one statement checks the row still says so. Only what
# this process read itself; bounded, as any event may be offset.
_EVENTS: dict[str, LargeEvent] = {}
_EVENTS_KEPT = 4096


def _described_event(session, event_id: str) -> LargeEvent | None:  # noqa: ANN001
    """The event (read, not locked: the offset's statement locks it), from _EVENTS if this
    process read it before; None if there is no such event."""
    event = _EVENTS.get(event_id)
    if event is None:
        event = read_event(session, event_id)
        if event is not None:
            if len(_EVENTS) >= _EVENTS_KEPT:
                _EVENTS.clear()
            _EVENTS[event_id] = event
    return event


def offset_from_cheapest(uow: UnitOfWork, event: LargeEvent, account_id: str, quantity: int
                         ) -> Offset:
    """The general path: from as many of the cheapest listings as it takes, each locked and
    sold in turn, its blocks carved by the registry's block moves."""
    session = uow.session
    bought, purchases = [], []
    # each listing sold first: its UPDATE flushes the session, and the bought blocks must
    # still be unwritten when the retirement below writes them (retired, in one INSERT)
    for listing_row, count in sell_cheapest(session, quantity):
        moving = block_moves.take(session, journal(uow),
                                  block_moves.listed_blocks(session, listing_row.id), count)
        bought += block_moves.reassign(session, journal(uow), moving, account_id,
                                       kind="transfer", from_listing_id=listing_row.id,
                                       event_id=event.id)
        purchases.append((listing_row, count))
    certificate = certify_retirement(
        uow, bought, account_id=account_id, beneficiary=event.name,
        purpose=offset_purpose(event), retired_by_user_id=event.organizer_user_id,
        event_id=event.id)
    payments = [Payment(listing_id=listing_row.id, event_id=event.id,
                        seller_account_id=listing_row.seller_account_id,
                        seller_user_id=listing_row.seller_user_id,
                        buyer_user_id=event.organizer_user_id, quantity=count,
                        price_per_tonne=listing_row.price_per_tonne,
                        amount=listing_row.price_per_tonne * count,
                        retirement_id=certificate.retirement_id)
                for listing_row, count in purchases]
    for payment in payments:
        uow.insert_last(payment)  # with the retirement it names, in the unit's last INSERT
    return Offset(event=event, quantity=quantity, certificate=certificate, payments=payments)


def offset_purpose(event: LargeEvent) -> str:
    return (f"carbon neutrality of the large event {event.name!r} ({event.start_date} - "
            f"{event.end_date}, {event.venue})")


def offset_from_listing(uow: UnitOfWork, event: LargeEvent, quantity: int, *, commit: bool
                        ) -> Offset | None:
    """`quantity` bought from the cheapest open listing and retired, by one statement
    (store/hot_listing.py): every row it writes is prepared here first, what depends on the
    serials, the listing and the buyer's account as placeholders the statement fills in. The
    same rows, entries and documents as the general path writes (tests/test_hot_listing.py).
    None, with nothing written, if that listing does not cover it (or there is none, or the
    event is not as described): the general path's case."""
    moment = utcnow()
    now, mark = moment.isoformat(), new_id()

    def slot(name: str) -> str:  # what the statement fills in: "@@<mark>:name@@"
        return f"@@{mark}:{name}@@"

    retirement_id, certificate_id = new_id(), new_id()
    split_entry, transfer_entry, retire_entry = new_id(), new_id(), new_id()
    beneficiary, purpose = event.name, offset_purpose(event)

    def entry(entry_id: str, kind: str, details: object) -> str:  # as store/audit.Journal
        return canonical_json({"entry_id": entry_id, "kind": kind, "recorded_at": now,
                               "details": details})

    # what store/retirements.certificate_fields states, serials and projects to be filled in
    certificate = canonical_json({
        "certificate_id": certificate_id, "retirement_id": retirement_id,
        "beneficiary": beneficiary, "purpose": purpose, "quantity": quantity,
        "serials": [slot("serials")], "projects": [slot("projects")],
        "retired_at": now, "report_id": None, "event_id": event.id,
        "redemption_id": None})
    envelope, outbox = outbox_row(CreditsRetired(
        retirement_id=retirement_id, certificate_id=certificate_id,
        retired_by_user_id=event.organizer_user_id, beneficiary=beneficiary, purpose=purpose,
        quantity=quantity, serial_ranges=[slot("serials")], event_id=event.id,
        retired_at=moment))
    params = {
        "event_id": event.id, "organizer": event.organizer_user_id, "event_name": event.name,
        "event_start": event.start_date.isoformat(), "event_end": event.end_date.isoformat(),
        "event_venue": event.venue, "quantity": quantity, "retirement_id": retirement_id,
        "certificate_id": certificate_id, "payment_id": new_id(), "purpose": purpose,
        "retired_at": now, "created_at": now, "mark": mark,
        "serial_prefix": f"{REGISTRY}-{UNIT_TYPE}", "split_entry": split_entry,
        "transfer_entry": transfer_entry, "retire_entry": retire_entry,
        "certificate": certificate,
        "split_body": entry(split_entry, "split", slot("split")),
        # store/blocks.reassign's and retire's details
        "transfer_body": entry(transfer_entry, "transfer", {
            "from_account_id": slot("seller"), "to_account_id": slot("account"),
            "listing_id": None, "quantity": quantity, "blocks": [slot("moved")],
            "from_listing_id": slot("listing"), "event_id": event.id}),
        "retire_body": entry(retire_entry, "retire", {
            "retirement_id": retirement_id, "account_id": slot("account"),
            "quantity": quantity, "blocks": [slot("retired")], "beneficiary": beneficiary,
            "purpose": purpose, "report_id": None, "event_id": event.id,
            "redemption_id": None}),
        "outbox_event_id": outbox["event_id"], "outbox_topic": outbox["topic"],
        "outbox_key": outbox["key"], "envelope": outbox["envelope"]}
    # anything this unit staged or journaled before goes first, and then the COMMIT may not
    # come with the purchase: the unit of work writes its journal just before committing
    uow.flush()
    commit = commit and JOURNAL not in uow.extras
    try:
        sale = sell_and_retire(uow.session, params, commit=commit)
    except ListingShort as short:
        raise InsufficientCredits(quantity, short.available) from short
    if sale.status != "sold":
        if sale.status == "stale":
            _EVENTS.pop(event.id, None)
        return None  # the general path: it reads the event, account and listings itself
    # its audit entries chained by a pass after its commit (see sell_and_retire), unless it
    # committed inside this unit's transaction
    if not sale.sequenced:
        engine = uow.session.get_bind()
        uow.after_commit(lambda: chain_after_commit(engine))
    envelope.data["serial_ranges"] = json.loads(sale.fields)["serials"]
    uow.events.append(envelope)
    return Offset(
        event=event, quantity=quantity,
        certificate=WrittenCertificate(id=certificate_id, retirement_id=retirement_id,
                                       fields=sale.fields, content_hash=sale.content_hash),
        payments=[Paid(id=params["payment_id"], listing_id=sale.listing_id, event_id=event.id,
                       seller_account_id=sale.seller_account_id,
                       seller_user_id=sale.seller_user_id,
                       buyer_user_id=event.organizer_user_id, quantity=quantity,
                       price_per_tonne=sale.price_per_tonne,
                       amount=sale.price_per_tonne * quantity, retirement_id=retirement_id,
                       created_at=moment)])
