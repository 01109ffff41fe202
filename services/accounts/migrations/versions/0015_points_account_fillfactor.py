"""points_account leaves half of each page free (issue 15, the trip ledger path): a feed updates
each account it names once, and the new version then fits on the old one's page, a HOT update
with no new key entry (tables.py).

Revision ID: 0015_points_account_fillfactor
"""
from alembic import op

revision = "0015_points_account_fillfactor"
down_revision = "0014_outbox_notify_while_asleep"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # pages written from now on; the full ones empty as their rows move
    op.execute("ALTER TABLE points_account SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE points_account RESET (fillfactor)")
