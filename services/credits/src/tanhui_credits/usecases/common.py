"""What every use case of the registry shares: its unit of work's audit journal, and the caller's
holding account."""
from __future__ import annotations

from sqlmodel import Session

from tanhui_shared.errors import NotFound
from tanhui_shared.uow import UnitOfWork

from ..store.accounts import account_of
from ..store.audit import Journal, chain_after_commit
from ..store.block_writes import write_moves
from ..store.tables import HoldingAccount

_JOURNAL = "credits.journal"


def journal(uow: UnitOfWork) -> Journal:
    """The unit of work's one journal: its entries are written (pending) just before the
    commit, once every row they name has its id, and chained by the sequencer right after it."""
    found = uow.extras.get(_JOURNAL)
    if found is None:
        found = uow.extras[_JOURNAL] = Journal()
        # the block moves first: the entries name the new blocks' ids
        uow.before_commit(lambda session: (write_moves(session),
                                           found.write(session, uow.insert_rows)))
        engine = uow.session.get_bind()
        uow.after_commit(lambda: found.written and chain_after_commit(engine))
    return found


class NoHoldingAccount(NotFound):
    code = "no-holding-account"


def require_account(session: Session, user_id: str, *, lock: bool = False) -> HoldingAccount:
    """The caller's account; `lock`: locked for a debit (see store.accounts.lock_account)."""
    return opened(account_of(session, user_id, lock=lock))


def opened(account: HoldingAccount | None) -> HoldingAccount:
    """The account found, or NoHoldingAccount."""
    if account is None:
        # Accounts open asynchronously from UserRegistered; right after registration this is normal.
        raise NoHoldingAccount("no holding account yet: it opens shortly after registration; retry")
    return account
