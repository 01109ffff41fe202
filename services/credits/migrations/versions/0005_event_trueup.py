"""event trueup (issue 13; slot reserved for: large events: heat, actuals, true-up)

The post-event accounting (event_accounting: actual activity data and the final figure, one
row per revision) and a check that an event does not end before it starts.

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_check_constraint("ck_large_event_dates", "large_event", "end_date >= start_date")
    op.create_table(
        "event_accounting",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("event_id", sa.String, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("activity", sa.Text, nullable=False),
        sa.Column("estimate", sa.Text, nullable=False),
        sa.Column("total_tco2e", sa.Numeric(18, 6), nullable=False),
        sa.Column("filed_by_user_id", sa.String, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["large_event.id"],
                                name="fk_event_accounting_event"),
        sa.UniqueConstraint("event_id", "revision", name="uq_event_accounting_revision"),
        sa.CheckConstraint("revision >= 1", name="ck_event_accounting_revision"),
        sa.CheckConstraint("total_tco2e >= 0", name="ck_event_accounting_total"),
    )


def downgrade() -> None:
    op.drop_table("event_accounting")
    op.drop_constraint("ck_large_event_dates", "large_event", type_="check")
