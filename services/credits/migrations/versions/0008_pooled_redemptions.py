"""pooled redemptions (issue 13; slot reserved for: citizens' small redemptions pooled into whole retirements)

Citizens' redemptions of whole 10 kg units (`pooled_redemption`, completed or rejected on
arrival) are allocated from whole 1 tCO2e serials the city's inclusion pool retires ahead;
`pool_share` gives each redemption its kg of each retired serial, the rest of a serial stays the
city's (exclusion constraints: no kg of a serial, and no kg of a redemption, given twice).
A certificate may now also be a citizen's (one per pooled redemption), naming the latest
retirement its kg come from.

Revision ID: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pooled_redemption",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False, index=True),
        sa.Column("username", sa.String, nullable=False),
        sa.Column("kg", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=True),
        sa.Column("certificate_id", sa.String, nullable=True),
        _ts("requested_at", False),
        _ts("completed_at", True),
        sa.CheckConstraint("kg > 0 AND kg % 10 = 0", name="ck_pooled_redemption_kg"),
        sa.CheckConstraint(
            "(status = 'completed' AND certificate_id IS NOT NULL AND completed_at IS NOT NULL "
            "AND reason IS NULL) "
            "OR (status = 'rejected' AND certificate_id IS NULL AND completed_at IS NULL "
            "AND reason IS NOT NULL)",
            name="ck_pooled_redemption_state"),
        sa.UniqueConstraint("id", "kg", name="uq_pooled_redemption_id_kg"),
    )
    op.create_table(
        "pool_share",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("redemption_id", sa.String, nullable=False),
        sa.Column("redemption_kg", sa.BigInteger, nullable=False),
        sa.Column("retirement_id", sa.String, nullable=False, index=True),
        sa.Column("project_id", sa.String, nullable=False),
        sa.Column("project_number", sa.Integer, nullable=False),
        sa.Column("vintage", sa.Integer, nullable=False),
        sa.Column("serial", sa.BigInteger, nullable=False),
        sa.Column("serial_from_kg", sa.Integer, nullable=False),
        sa.Column("serial_to_kg", sa.Integer, nullable=False),
        sa.Column("own_from_kg", sa.BigInteger, nullable=False),
        sa.Column("own_to_kg", sa.BigInteger, nullable=False),
        sa.CheckConstraint("serial_from_kg >= 0 AND serial_from_kg < serial_to_kg "
                           "AND serial_to_kg <= 1000", name="ck_pool_share_serial_range"),
        sa.CheckConstraint("own_from_kg >= 0 AND own_from_kg < own_to_kg "
                           "AND own_to_kg <= redemption_kg", name="ck_pool_share_own_range"),
        sa.CheckConstraint("serial_to_kg - serial_from_kg = own_to_kg - own_from_kg",
                           name="ck_pool_share_same_kg"),
        sa.ForeignKeyConstraint(["redemption_id", "redemption_kg"],
                                ["pooled_redemption.id", "pooled_redemption.kg"],
                                name="fk_pool_share_redemption"),
        sa.ForeignKeyConstraint(["retirement_id"], ["retirement.id"],
                                name="fk_pool_share_retirement"),
    )
    # btree_gist is installed by 0003 (plain equality inside a gist exclusion)
    op.execute("ALTER TABLE pool_share ADD CONSTRAINT ex_pool_share_serial_kg EXCLUDE USING gist "
               "(project_id WITH =, vintage WITH =, serial WITH =, "
               "int4range(serial_from_kg, serial_to_kg) WITH &&)")
    op.execute("ALTER TABLE pool_share ADD CONSTRAINT ex_pool_share_redemption_kg EXCLUDE USING "
               "gist (redemption_id WITH =, int8range(own_from_kg, own_to_kg) WITH &&)")
    op.add_column("certificate", sa.Column("redemption_id", sa.String, nullable=True))
    op.create_unique_constraint("uq_certificate_redemption", "certificate", ["redemption_id"])
    op.drop_constraint("certificate_retirement_id_key", "certificate", type_="unique")
    op.create_index("uq_certificate_retirement", "certificate", ["retirement_id"], unique=True,
                    postgresql_where=sa.text("redemption_id IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_certificate_retirement", table_name="certificate")
    # citizens' pooled certificates have no place in the one-per-retirement schema: refuse
    # rather than delete what a citizen was given
    pooled = op.get_bind().execute(sa.text("SELECT count(*) FROM certificate "
                                           "WHERE redemption_id IS NOT NULL")).scalar()
    if pooled:
        raise RuntimeError(f"{pooled} pooled redemption certificates exist")
    op.create_unique_constraint("certificate_retirement_id_key", "certificate", ["retirement_id"])
    op.drop_constraint("uq_certificate_redemption", "certificate", type_="unique")
    op.drop_column("certificate", "redemption_id")
    op.drop_table("pool_share")
    op.drop_table("pooled_redemption")
