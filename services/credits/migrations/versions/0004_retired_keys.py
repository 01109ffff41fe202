"""trusted signing keys can be retired (SigningKeyRetired): the retired_at column

Revision ID: 0004
"""
from alembic import op

from tanhui_shared.web.trusted_keys import add_key_retirement, drop_key_retirement

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_key_retirement(op)


def downgrade() -> None:
    drop_key_retirement(op)
