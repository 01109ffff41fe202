"""points lifecycle (issue 13; slot reserved for: points expiry and small-unit redemption)

Revision ID: 0008
"""
from alembic import op  # noqa: F401

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
