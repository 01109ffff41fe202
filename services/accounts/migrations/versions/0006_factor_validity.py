"""factor validity (issue 13; slot reserved for: factor library and report factor validity)

Revision ID: 0006
"""
from alembic import op  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
