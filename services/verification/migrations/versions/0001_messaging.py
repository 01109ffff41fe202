"""trusted signing keys, outbox and inbox

Revision ID: 0001
"""
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


def downgrade() -> None:
    op.drop_table("trusted_signing_key")
    drop_messaging_tables(op)
