"""the outbox notifies the relay when rows are committed (issue 15: end-to-end latency)

A statement-level trigger on outbox runs pg_notify on the relay's channel; the relay LISTENs and
publishes at once instead of waiting for its next idle poll (which stays, as the fallback). The
same trigger is attached to the outbox table model (tanhui_shared.messaging.outbox).

Revision ID: 0012
"""
from alembic import op

from tanhui_shared.messaging.outbox import create_outbox_notify, drop_outbox_notify

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_notify(op)


def downgrade() -> None:
    drop_outbox_notify(op)
