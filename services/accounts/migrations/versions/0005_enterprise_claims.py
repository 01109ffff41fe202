"""enterprise claims: a USCC claim is pending until the regulator decides it; one confirmed
enterprise per code instead of one registration per code

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STATUS_CHECK = "claim_status IN ('pending', 'confirmed', 'rejected')"
DECISION_CHECK = (
    "(claim_status = 'pending' AND decided_at IS NULL AND decided_by IS NULL "
    "AND decision_reason IS NULL) OR (claim_status <> 'pending' AND decided_at IS NOT "
    "NULL AND decided_by IS NOT NULL AND decision_reason IS NOT NULL)")


def upgrade() -> None:
    # Enterprises registered before this revision took their code first-come, first-served:
    # none was confirmed by anyone, so each becomes a pending claim in the regulator's queue
    # (and leaves the disclosures until confirmed). The old unique key guarantees one per code.
    op.add_column("enterprise", sa.Column("claim_status", sa.String, nullable=False,
                                          server_default="pending"))
    op.alter_column("enterprise", "claim_status", server_default=None)
    op.add_column("enterprise", sa.Column("decided_at", sa.DateTime(timezone=True)))
    op.add_column("enterprise", sa.Column("decided_by", sa.String))
    op.add_column("enterprise", sa.Column("decision_reason", sa.Text))
    op.create_check_constraint("ck_enterprise_claim_status", "enterprise", STATUS_CHECK)
    op.create_check_constraint("ck_enterprise_claim_decision", "enterprise", DECISION_CHECK)
    # A second claimant of a code is queued, not refused: one confirmed enterprise per code,
    # one open claim per code and registrant.
    op.drop_constraint("uq_enterprise_uscc", "enterprise", type_="unique")
    op.create_index("uq_enterprise_confirmed_uscc", "enterprise", ["uscc"], unique=True,
                    postgresql_where=sa.text("claim_status = 'confirmed'"))
    op.create_index("uq_enterprise_open_claim", "enterprise", ["uscc", "created_by"], unique=True,
                    postgresql_where=sa.text("claim_status IN ('pending', 'confirmed')"))
    op.create_index("ix_enterprise_uscc", "enterprise", ["uscc"])
    op.create_index("ix_enterprise_claim_queue", "enterprise", ["claim_status", "created_at"])


def downgrade() -> None:
    # Possible only while no code has two claims (in any status): the old unique key below
    # refuses them, and which one to drop is not a migration's call.
    op.drop_index("ix_enterprise_claim_queue", "enterprise")
    op.drop_index("ix_enterprise_uscc", "enterprise")
    op.drop_index("uq_enterprise_open_claim", "enterprise")
    op.drop_index("uq_enterprise_confirmed_uscc", "enterprise")
    op.create_unique_constraint("uq_enterprise_uscc", "enterprise", ["uscc"])
    op.drop_constraint("ck_enterprise_claim_decision", "enterprise", type_="check")
    op.drop_constraint("ck_enterprise_claim_status", "enterprise", type_="check")
    for column in ("decision_reason", "decided_by", "decided_at", "claim_status"):
        op.drop_column("enterprise", column)
