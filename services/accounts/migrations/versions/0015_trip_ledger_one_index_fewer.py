"""green_trip without ix_green_trip_user_time (issue 15, the trip ledger path): every query it
served names a citizen and bounds started_at from above only (overlaps: started_at < the claim's
end; the journeys page: all of them, counted), so it read the citizen's whole history, as
uq_green_trip_external_id's user_id prefix reads it; a feed paid a third index insert per trip
for it (about a third of the server's time inserting a feed's trips). points_account leaves half
of each page free, so that a feed's update of each account it names is a HOT update (tables.py).

Revision ID: 0015_trip_ledger_one_index_fewer
"""
from alembic import op

revision = "0015_trip_ledger_one_index_fewer"
down_revision = "0014_outbox_notify_while_asleep"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_green_trip_user_time", table_name="green_trip")
    # pages written from now on; the full ones empty as their rows move
    op.execute("ALTER TABLE points_account SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE points_account RESET (fillfactor)")
    op.create_index("ix_green_trip_user_time", "green_trip", ["user_id", "started_at"])
