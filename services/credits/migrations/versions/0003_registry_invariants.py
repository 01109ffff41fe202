"""the registry's invariants in the schema: no serial in two live blocks, positive quantities,
listings' remaining in range, one issuance per monitoring report (see store/tables.py for why)

Revision ID: 0003
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHECKS = (  # (name, table, condition): the same as declared in the table models
    ("ck_block_closed", "serial_block", "(status = 'active') = (closed_by IS NULL)"),
    ("ck_block_retirement", "serial_block", "(status = 'retired') = (retirement_id IS NOT NULL)"),
    ("ck_issuance_quantities", "issuance", "owner_quantity >= 0 AND buffer_quantity >= 0"),
    ("ck_issuance_serials", "issuance",
     "serial_first >= 1 AND serial_last = serial_first + owner_quantity + buffer_quantity - 1"),
    ("ck_serial_counter_next", "serial_counter", "next_serial >= 1"),
    ("ck_retirement_quantity", "retirement", "quantity > 0"),
    ("ck_redemption_quantity", "redemption", "quantity > 0"),
    ("ck_redemption_status", "redemption", "status IN ('completed', 'rejected')"),
    ("ck_listing_quantity", "listing", "quantity > 0"),
    ("ck_listing_status", "listing", "status IN ('open', 'sold_out', 'cancelled')"),
    ("ck_listing_open", "listing", "(status = 'open') = (remaining > 0)"),
    ("ck_payment_quantity", "payment", "quantity > 0"),
)


def upgrade() -> None:
    # gist over plain equality (project_id, vintage) needs btree_gist (a trusted extension)
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    # no serial in two live blocks: a forgotten lock is refused, not applied
    op.execute("ALTER TABLE serial_block ADD CONSTRAINT ex_block_live_serials "
               "EXCLUDE USING gist (project_id WITH =, vintage WITH =, "
               "int8range(\"first\", \"last\", '[]') WITH &&) "
               "WHERE (status IN ('active', 'retired'))")
    for name, table, condition in CHECKS:
        op.create_check_constraint(name, table, condition)
    op.create_unique_constraint("uq_issuance_monitoring_report", "issuance",
                                ["monitoring_report_id"])
    op.create_foreign_key("fk_block_account", "serial_block", "holding_account",
                          ["account_id"], ["id"])
    op.create_foreign_key("fk_block_listing", "serial_block", "listing", ["listing_id"], ["id"])


def downgrade() -> None:
    op.drop_constraint("fk_block_listing", "serial_block", type_="foreignkey")
    op.drop_constraint("fk_block_account", "serial_block", type_="foreignkey")
    op.drop_constraint("uq_issuance_monitoring_report", "issuance", type_="unique")
    for name, table, _ in reversed(CHECKS):
        op.drop_constraint(name, table, type_="check")
    op.drop_constraint("ex_block_live_serials", "serial_block")
