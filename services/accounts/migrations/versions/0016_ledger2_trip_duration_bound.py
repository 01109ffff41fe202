"""A trip lasts at most 12 hours (issue 15, the trip ledger path): the rules refuse a longer one
(domain/travel.py's MAX_TRIP_DURATION) and this check holds it, so the overlap reads look 12 hours
before a claim instead of through the citizen's whole history.

Revision ID: 0016_ledger2_trip_duration_bound
"""
from alembic import op

revision = "0016_ledger2_trip_duration_bound"
down_revision = "0015_points_account_fillfactor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_check_constraint("ck_green_trip_duration_bounded", "green_trip",
                               "ended_at <= started_at + interval '12 hours'")


def downgrade() -> None:
    op.drop_constraint("ck_green_trip_duration_bounded", "green_trip", type_="check")
