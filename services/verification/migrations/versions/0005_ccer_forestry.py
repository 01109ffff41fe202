"""ccer forestry (issue 13; slot reserved for: CCER forestry kinds, land eligibility, reversals, loss events)

Revision ID: 0005
"""
from alembic import op  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
