"""holding accounts, trusted signing keys, outbox and inbox

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

from tanhui_shared.messaging.outbox import create_messaging_tables, drop_messaging_tables
from tanhui_shared.web.trusted_keys import create_trusted_keys_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)
    create_trusted_keys_table(op)
    op.create_table(
        "holding_account",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("owner_user_id", sa.String, nullable=False, unique=True),
        sa.Column("owner_username", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by_event", sa.String, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("holding_account")
    op.drop_table("trusted_signing_key")
    drop_messaging_tables(op)
