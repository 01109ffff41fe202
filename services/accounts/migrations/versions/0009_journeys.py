"""users' journeys in accounts (issue 14): an index for a user's own enterprises

GET /enterprises lists the enterprises a user belongs to; enterprise_member's key leads with the
enterprise, so the user's side gets its own index. The trips list needs nothing new: green_trip
already keeps each trip's mode, distance, points and who recorded it, and ix_green_trip_user_time
orders a citizen's trips.

Revision ID: 0009
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_enterprise_member_user", "enterprise_member", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_enterprise_member_user", table_name="enterprise_member")
