"""Debits lock their holding account FOR NO KEY UPDATE instead of FOR UPDATE (store/accounts.
lock_account says why: credits to a locked account, whose blocks' foreign key takes it FOR KEY
SHARE, no longer wait for its debits, and transfers in a ring no longer deadlock). Here: the two
PL/pgSQL functions that take the lock, each its revision's frozen copy with that one clause
changed.

Revision ID: 0022_account_lock_no_key_update
"""
from alembic import op

revision = "0022_account_lock_no_key_update"
down_revision = "0021_offset_one_call"
branch_labels = None
depends_on = None

# (revision, its frozen function, the account lock's clause in it)
FUNCTIONS = (("0013_registry_functions", "LOCK", "WHERE a.owner_user_id = p_owner\n    FOR "),
             ("0020_spreadlean_statements", "RETIRE",
              "WHERE a.owner_user_id = p->>'owner'\n    FOR "))


def _definitions(mode: str) -> list[str]:
    from alembic import context  # the revisions before: their own frozen copies
    found = []
    for rev, name, clause in FUNCTIONS:
        text = getattr(context.script.get_revision(rev).module, name)
        assert text.count(clause + "UPDATE;") == 1, (rev, name)
        found.append(text.replace(clause + "UPDATE;", clause + mode + ";"))
    return found


def upgrade() -> None:
    for definition in _definitions("NO KEY UPDATE"):
        op.execute(definition)


def downgrade() -> None:
    for definition in _definitions("UPDATE"):
        op.execute(definition)
