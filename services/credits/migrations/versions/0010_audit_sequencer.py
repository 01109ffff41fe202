"""the audit chain is extended after commit by a sequencer (issue 15): audit_pending

Movements no longer lock the chain head: each inserts its journal into `audit_pending` (an
identity stamp, drawn after the movement took its locks), and the sequencer, one at a time,
moves committed pending entries into `audit_entry` in stamp order with seq, prev_hash and hash.

Revision ID: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("stamp", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("entry_id", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade() -> None:
    # nothing may be lost: a downgrade with entries still pending would drop movements' records
    op.execute("DO $$ BEGIN IF EXISTS (SELECT 1 FROM audit_pending) THEN RAISE EXCEPTION "
               "'audit entries are still pending: run the sequencer first'; END IF; END $$")
    op.drop_table("audit_pending")
