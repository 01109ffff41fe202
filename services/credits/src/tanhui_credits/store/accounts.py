"""Holding accounts: users' (opened from UserRegistered) and the registry's two system accounts.

The system accounts are created by migration 0002 with fixed ids:
- the buffer pool ("registry-buffer-pool"), which receives every issuance's non-permanence buffer;
- the city's carbon-inclusion pool ("city-inclusion-pool"), from which citizens' redemptions are
  retired. It is filled by ordinary transfers: any holder may POST /api/v1/transfers with
  to_username "city-inclusion-pool" (e.g. the city's own organisation account, or a donor).
These usernames resolve to the system accounts even if a user registered the same name.
"""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from .tables import HoldingAccount

BUFFER_POOL_ID = "system-buffer-pool"
BUFFER_POOL_USERNAME = "registry-buffer-pool"
INCLUSION_POOL_ID = "system-city-inclusion-pool"
INCLUSION_POOL_USERNAME = "city-inclusion-pool"
SYSTEM_ACCOUNTS = {BUFFER_POOL_USERNAME: BUFFER_POOL_ID, INCLUSION_POOL_USERNAME: INCLUSION_POOL_ID}


def account_of(session: Session, user_id: str, *, lock: bool = False) -> HoldingAccount | None:
    """The user's account; with `lock`, locked as `lock_account` does (one statement for both)."""
    query = select(HoldingAccount).where(HoldingAccount.owner_user_id == user_id)
    return session.exec(query.with_for_update(key_share=True) if lock else query).first()


def account_by_username(session: Session, username: str) -> HoldingAccount | None:
    if username in SYSTEM_ACCOUNTS:
        return session.get(HoldingAccount, SYSTEM_ACCOUNTS[username])
    return session.exec(select(HoldingAccount)
                        .where(HoldingAccount.owner_username == username)
                        .where(HoldingAccount.kind != "system")).first()


def lock_account(session: Session, account_id: str) -> HoldingAccount:
    """Lock the account row before touching its blocks: debits of one account queue here, and the
    block query that follows starts after the lock, so it sees the previous debit's new blocks.

    FOR NO KEY UPDATE (every debit takes it, in SQL too: lock_spendable_blocks,
    spread_retirement): debits still queue on it, but a credit to the account, whose new block's
    foreign key takes the row FOR KEY SHARE, no longer waits for them. FOR UPDATE made
    transfers in a ring (A to B, B to C, C to A at once) deadlock, each holding its sender and
    waiting for its receiver (test_account_lock_lets_credits_in)."""
    return session.exec(select(HoldingAccount).where(HoldingAccount.id == account_id)
                        .with_for_update(key_share=True)).one()


def open_account(session: Session, user_id: str, username: str, kind: str, event_id: str
                 ) -> HoldingAccount:
    """Open the account unless it is open already (idempotent, also against a concurrent opening
    from another event: UserRegistered and MonitoringVerified travel on different topics)."""
    existing = account_of(session, user_id)
    if existing is not None:
        return existing
    account = HoldingAccount(owner_user_id=user_id, owner_username=username, kind=kind,
                             opened_by_event=event_id)
    session.execute(insert(HoldingAccount).values(
        id=account.id, owner_user_id=user_id, owner_username=username, kind=kind,
        opened_at=account.opened_at, opened_by_event=event_id)
        .on_conflict_do_nothing(index_elements=["owner_user_id"]))
    opened = account_of(session, user_id)
    assert opened is not None  # ours, or the concurrent one's
    return opened


def usernames(session: Session, account_ids: set[str]) -> dict[str, str]:
    if not account_ids:
        return {}
    rows = session.exec(select(HoldingAccount).where(HoldingAccount.id.in_(account_ids))).all()
    return {row.id: row.owner_username for row in rows}
