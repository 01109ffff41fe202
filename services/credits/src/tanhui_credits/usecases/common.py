"""What every use case of the registry shares: its unit of work's audit journal, and the caller's
holding account."""
from __future__ import annotations

from sqlmodel import Session

from tanhui_shared.errors import NotFound
from tanhui_shared.uow import UnitOfWork

from ..store.accounts import account_of
from ..store.audit import Journal
from ..store.tables import HoldingAccount

_JOURNAL = "credits.journal"


def journal(uow: UnitOfWork) -> Journal:
    """The unit of work's one journal: its movements are chained onto the audit log once, just
    before the commit, so the chain head is the last row any registry transaction locks."""
    found = uow.extras.get(_JOURNAL)
    if found is None:
        found = uow.extras[_JOURNAL] = Journal()
        uow.before_commit(found.write)
    return found


class NoHoldingAccount(NotFound):
    code = "no-holding-account"


def require_account(session: Session, user_id: str) -> HoldingAccount:
    account = account_of(session, user_id)
    if account is None:
        # Accounts open asynchronously from UserRegistered; right after registration this is normal.
        raise NoHoldingAccount("no holding account yet: it opens shortly after registration; retry")
    return account
