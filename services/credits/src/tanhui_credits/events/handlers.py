"""What credits does with other services' events: the one table of this consumer group."""
from __future__ import annotations

from sqlmodel import Session

from tanhui_shared.contracts import (ACCOUNTS_TOPIC, VERIFICATION_TOPIC, CloudEvent,
                                     SigningKeyPublished, UserRegistered)
from tanhui_shared.messaging.consumer import Handler
from tanhui_shared.web.trusted_keys import trust_signing_key

from ..store.accounts import account_of
from ..store.tables import HoldingAccount


def open_holding_account(session: Session, event: CloudEvent, user: UserRegistered) -> None:
    if account_of(session, user.user_id) is not None:
        return  # already open (the same user re-announced under another event id)
    session.add(HoldingAccount(owner_user_id=user.user_id, owner_username=user.username,
                               kind=user.subject_kind, opened_by_event=event.id))


TOPICS = [ACCOUNTS_TOPIC, VERIFICATION_TOPIC]
HANDLERS: dict[str, Handler] = {
    UserRegistered.TYPE: open_holding_account,
    SigningKeyPublished.TYPE: trust_signing_key,
}
