"""outbox header columns (issue 15, the relay's CPU): the envelope's type, correlation id and
traceparent in columns of their own, written with the row (messaging/outbox.outbox_row), so the
relay builds a record's Kafka headers without parsing its envelope. Nullable: rows already in
the outbox, and any writer that does not fill them, are sent with headers read from the envelope.

Revision ID: 0016_outbox_header_columns
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_outbox_header_columns"
down_revision = "0015_hot_listing_sale"
branch_labels = None
depends_on = None

COLUMNS = ("event_type", "correlation_id", "traceparent")


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("outbox", sa.Column(column, sa.String, nullable=True))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("outbox", column)
