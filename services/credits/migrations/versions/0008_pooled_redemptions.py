"""pooled redemptions (issue 13; slot reserved for: citizens' small redemptions pooled into whole retirements)

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
