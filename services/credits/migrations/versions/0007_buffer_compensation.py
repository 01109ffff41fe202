"""buffer compensation (issue 13): verified forestry losses compensated by cancelling credits
from the buffer pool, then from the developer's holdings

The same table and constraints are declared in store/tables.py (the schema source); each says
why there. A block gains the status `cancelled` (final, like `retired`, and so inside the
no-overlap exclusion) and the compensation that cancelled it. Existing rows are untouched: none
is cancelled before this revision.

Revision ID: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EXCLUSION = ("ALTER TABLE serial_block ADD CONSTRAINT ex_block_live_serials "
             "EXCLUDE USING gist (project_id WITH =, vintage WITH =, "
             "int8range(\"first\", \"last\", '[]') WITH &&) WHERE (status IN ({}))")


def upgrade() -> None:
    op.create_table(
        "buffer_compensation",
        sa.Column("loss_id", sa.String, primary_key=True),
        sa.Column("project_id", sa.String, nullable=False),
        sa.Column("cause", sa.String, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("verified_tco2e", sa.Numeric(20, 4), nullable=False),
        sa.Column("monitoring_report_id", sa.String, nullable=True),
        sa.Column("owner_user_id", sa.String, nullable=False),
        sa.Column("loss_credits", sa.Integer, nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("from_pool", sa.Integer, nullable=False),
        sa.Column("from_developer", sa.Integer, nullable=False),
        sa.Column("shortfall", sa.Integer, nullable=False),
        sa.Column("compensated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caused_by_event", sa.String, nullable=False),
        sa.Column("entry_id", sa.String, nullable=False),
        sa.CheckConstraint("loss_credits >= 0 AND required >= 0 AND required <= loss_credits "
                           "AND from_pool >= 0 AND from_developer >= 0 AND shortfall >= 0 AND "
                           "from_pool + from_developer + shortfall = required",
                           name="ck_buffer_compensation_split"),
        sa.CheckConstraint("verified_tco2e > 0", name="ck_buffer_compensation_loss"),
    )
    op.create_index("ix_buffer_compensation_project_id", "buffer_compensation", ["project_id"])
    op.add_column("serial_block", sa.Column("compensation_id", sa.String, nullable=True))
    op.create_foreign_key("fk_block_compensation", "serial_block", "buffer_compensation",
                          ["compensation_id"], ["loss_id"])
    op.drop_constraint("ck_block_status", "serial_block")
    op.create_check_constraint("ck_block_status", "serial_block",
                               "status IN ('active', 'retired', 'superseded', 'cancelled')")
    op.create_check_constraint("ck_block_compensation", "serial_block",
                               "(status = 'cancelled') = (compensation_id IS NOT NULL)")
    op.drop_constraint("ex_block_live_serials", "serial_block")
    op.execute(EXCLUSION.format("'active', 'retired', 'cancelled'"))


def downgrade() -> None:
    # Cancelled blocks have no status in the older schema: a downgrade with compensations
    # recorded would have to un-cancel credits, which the registry never does. Refuse it then.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM buffer_compensation")).scalar_one():
        raise RuntimeError("compensations are recorded: downgrading would un-cancel credits")
    op.drop_constraint("ex_block_live_serials", "serial_block")
    op.execute(EXCLUSION.format("'active', 'retired'"))
    op.drop_constraint("ck_block_compensation", "serial_block")
    op.drop_constraint("ck_block_status", "serial_block")
    op.create_check_constraint("ck_block_status", "serial_block",
                               "status IN ('active', 'retired', 'superseded')")
    op.drop_constraint("fk_block_compensation", "serial_block")
    op.drop_column("serial_block", "compensation_id")
    op.drop_index("ix_buffer_compensation_project_id", "buffer_compensation")
    op.drop_table("buffer_compensation")
