"""disclosure retirements (issue 13; slot reserved for: disclosures: retirements follow revisions)

Retirements stay attached to the revision they were made against; disclosures count them for
that revision's enterprise and period (a join, nothing copied). The foreign key makes sure each
one has a report to be counted through: a retirement naming a report accounts never filed is
refused (the consumer dead-letters it) instead of being stored where no disclosure shows it.

Revision ID: 0007
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_foreign_key("fk_report_retirement_report", "report_retirement", "carbon_report",
                          ["report_id"], ["id"])


def downgrade() -> None:
    op.drop_constraint("fk_report_retirement_report", "report_retirement", type_="foreignkey")
