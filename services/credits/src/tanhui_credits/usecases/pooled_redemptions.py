"""Citizens' small redemptions (RedemptionRequestedV2), allocated from whole retirements of the
city's inclusion pool, as Wuhan's carbon-inclusion platform pools its citizens' reductions.

The pool retires ahead and allocates as redemptions arrive: a redemption of k kg first takes the
unallocated remainder of serials the pool already retired for redemptions (oldest retired
first); if that falls short, the pool retires ceil(shortfall / 1,000) whole 1 tCO2e serials now
and the redemption takes the rest from them. It is then **completed** at once: its certificate
names its kg of each serial, and accounts spends the held points (RedemptionCompletedV2). If
the pool cannot supply the serials, it is rejected at once and its points released. A retired
serial's unallocated kg are the city's (see `GET /api/v1/registry/inclusion-pool`).
Everything runs under the pool account's lock, and a redelivered request finds its redemption
already received: nothing is retired or allocated twice.
"""
from __future__ import annotations

from tanhui_shared.contracts import (PoolShare, RedemptionCompletedV2, RedemptionRejected,
                                     RedemptionRequestedV2)
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import UnitOfWork

from ..domain.pooling import allocate, serials_to_retire
from ..store import blocks as block_moves
from ..store.accounts import INCLUSION_POOL_ID, lock_account
from ..store.pool_tables import PooledRedemption
from ..store.pooling import certify_redemption, fresh_sources, open_sources, record_shares
from ..store.tables import new_id
from .common import journal
from .retirements import REDEMPTION_PURPOSE, certify_retirement

POOL_BENEFICIARY = "citizens' pooled carbon-inclusion redemptions (city inclusion pool)"
# the pool's own retirements: the serials are retired ahead of the citizens they are allocated to
POOL_PURPOSE = ("retired by the city's carbon-inclusion pool for citizens' redemptions, "
                "allocated in 10 kg shares; kg not yet allocated remain the city's")


def pool_redemption(uow: UnitOfWork, request: RedemptionRequestedV2) -> PooledRedemption:
    """Complete one redemption from the open remainders and serials retired for it now, or
    reject it; once per redemption_id."""
    session = uow.session
    lock_account(session, INCLUSION_POOL_ID)  # allocations, retirements and redeliveries queue here
    received = session.get(PooledRedemption, request.redemption_id)
    if received is not None:
        return received  # a redelivery: the business key absorbs it
    sources = open_sources(session)
    count = serials_to_retire(request.kg, sources)
    pool = block_moves.spendable_blocks(session, INCLUSION_POOL_ID) if count else []
    held = sum(b.quantity for b in pool)
    redemption = PooledRedemption(id=request.redemption_id, user_id=request.user_id,
                                  username=request.username, kg=request.kg)
    if count > held:
        redemption.status = "rejected"
        redemption.reason = (f"the city inclusion pool holds {held} credits; this redemption "
                             f"needs {count} more retired")
        session.add(redemption)
        uow.emit(RedemptionRejected(redemption_id=redemption.id, user_id=redemption.user_id,
                                    reason=redemption.reason))
        return redemption
    if count:
        rows = block_moves.take(session, journal(uow), pool, count)
        retired = certify_retirement(uow, rows, account_id=INCLUSION_POOL_ID,
                                     beneficiary=POOL_BENEFICIARY, purpose=POOL_PURPOSE,
                                     retired_by_user_id=None)
        sources += fresh_sources(rows, retired.retirement_id)
    now = utcnow()
    redemption.status, redemption.certificate_id, redemption.completed_at = (
        "completed", new_id(), now)
    session.add(redemption)
    uow.flush()  # the shares' foreign keys name it and the retirement (a last write until here)
    record_shares(session, allocate(redemption.id, redemption.kg, sources), redemption.kg)
    _, listed = certify_redemption(session, redemption, redemption.certificate_id, now,
                                   REDEMPTION_PURPOSE)
    uow.emit(RedemptionCompletedV2(
        redemption_id=redemption.id, user_id=redemption.user_id, kg=redemption.kg,
        certificate_id=redemption.certificate_id,
        shares=[PoolShare(serial=x["serial"], kg=x["kg"]) for x in listed]))
    session.flush()
    return redemption
