"""disclosure retirements (issue 13; slot reserved for: disclosures: retirements follow revisions)

Revision ID: 0007
"""
from alembic import op  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
