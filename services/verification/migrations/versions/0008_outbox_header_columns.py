"""outbox header columns (issue 15, the relay's CPU): the envelope's type, correlation id and
traceparent in columns of their own, written with the row (messaging/outbox.outbox_row), so the
relay builds a record's Kafka headers without parsing its envelope. Nullable: rows already in
the outbox, and any writer that does not fill them, are sent with headers read from the envelope.

Revision ID: 0008_outbox_header_columns
"""
from alembic import op

from tanhui_shared.messaging.outbox import add_outbox_header_columns, drop_outbox_header_columns

revision = "0008_outbox_header_columns"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_header_columns(op)


def downgrade() -> None:
    drop_outbox_header_columns(op)
