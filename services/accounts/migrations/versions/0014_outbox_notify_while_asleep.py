"""the outbox's NOTIFY only while a relay sleeps (issue 15): a commit that notifies takes one lock
of the whole server and holds it through its WAL flush, so every notifying commit queued there;
the trigger's function now notifies only when a sleeping relay holds RELAY_ASLEEP
(tanhui_shared.messaging.outbox).

Revision ID: 0014_outbox_notify_while_asleep
"""
from alembic import op

from tanhui_shared.messaging.outbox import notify_always, notify_while_a_relay_sleeps

revision = "0014_outbox_notify_while_asleep"
down_revision = "0013_outbox_header_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    notify_while_a_relay_sleeps(op)


def downgrade() -> None:
    notify_always(op)
