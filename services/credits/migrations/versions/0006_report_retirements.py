"""report retirements (issue 13; slot reserved for: retirements only against a report's current revision)

Credits' projection of `ReportFiled` learns which revision of a period is current, so a
retirement against a superseded revision can be refused. Existing rows: the highest revision
known for an enterprise and period is current, the others are not.

Revision ID: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("filed_report", sa.Column("is_current", sa.Boolean, nullable=False,
                                            server_default=sa.true()))
    op.alter_column("filed_report", "is_current", server_default=None)  # the models set it
    # Ties (two ids with one revision, which accounts' unique key rules out) keep the lowest id.
    op.execute("""
        UPDATE filed_report SET is_current = false
        WHERE EXISTS (
            SELECT 1 FROM filed_report later
            WHERE later.enterprise_id = filed_report.enterprise_id
              AND later.period = filed_report.period
              AND (later.revision > filed_report.revision
                   OR (later.revision = filed_report.revision AND later.id < filed_report.id)))
    """)
    op.create_index("uq_filed_report_current", "filed_report", ["enterprise_id", "period"],
                    unique=True, postgresql_where=sa.text("is_current"))


def downgrade() -> None:
    op.drop_index("uq_filed_report_current", table_name="filed_report")
    op.drop_column("filed_report", "is_current")
