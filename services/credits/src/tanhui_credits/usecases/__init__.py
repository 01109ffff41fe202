"""Every write of the registry, one function each, run inside a unit of work (first argument).

The API's routers (through `Idempotency-Key`) and the event handlers call these and nothing else
that writes; they are the only place that sequences locks, rules and events. The lock order, the
same everywhere so concurrent writes queue instead of deadlocking:
  listings (price, id order; one listing for a purchase or cancellation), or the debited
  account, or the serial counter (issuance)
  -> their serial blocks (id order) -> new rows
  -> the unit of work's journal, written last into audit_pending (no lock shared with other
  movements; the sequencer chains it after the commit, store/audit.py).
"""
from .accounts import open_holding_account, remember_report
from .issuance import issue_credits
from .market import cancel_listing, create_listing, offset_event, register_event
from .purchases import buy_from_listing
from .retirements import redeem_from_inclusion_pool, retire_credits
from .transfers import transfer_credits

__all__ = ["buy_from_listing", "cancel_listing", "create_listing", "issue_credits", "offset_event",
           "open_holding_account", "redeem_from_inclusion_pool", "register_event",
           "remember_report", "retire_credits", "transfer_credits"]
