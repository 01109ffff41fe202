"""A trip lasts at most 12 hours (issue 15, the trip ledger path): the rules refuse a longer one
(domain/travel.py's MAX_TRIP_DURATION) and this check holds it, so the overlap reads look 12 hours
before a claim instead of through the citizen's whole history.

Revision ID: 0016_ledger2_trip_duration_bound
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_ledger2_trip_duration_bound"
down_revision = "0015_points_account_fillfactor"
branch_labels = None
depends_on = None

LONGER = "ended_at > started_at + interval '12 hours'"


def upgrade() -> None:
    # Stopped with a way forward rather than with the check's bare violation: a longer trip
    # already recorded would be missed by the bounded overlap reads, so it must be looked at
    # (it is a ledger entry's trip: corrected by an adjustment, never silently deleted here).
    longer = op.get_bind().execute(sa.text(f"SELECT count(*) FROM green_trip WHERE {LONGER}"))
    if (count := longer.scalar_one()) > 0:
        raise RuntimeError(
            f"{count} recorded trips last longer than 12 hours, which the trip rules now refuse: "
            f"list them with `SELECT id, user_id, started_at, ended_at FROM green_trip WHERE "
            f"{LONGER}`, settle each (its ended_at corrected, or its points adjusted), then run "
            f"the migration again")
    op.create_check_constraint("ck_green_trip_duration_bounded", "green_trip",
                               "ended_at <= started_at + interval '12 hours'")


def downgrade() -> None:
    op.drop_constraint("ck_green_trip_duration_bounded", "green_trip", type_="check")
