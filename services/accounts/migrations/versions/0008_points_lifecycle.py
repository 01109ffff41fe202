"""points lifecycle (issue 13; slot reserved for: points expiry and small-unit redemption)

Points expire by an append-only `expire` entry keyed by the expired total it was computed from
(one entry per computation, however many runs race); redemptions buy 10 kg units of a pooled
retirement (`kg`), `quantity` (whole credits) stays for the redemptions made before.

Revision ID: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("points_entry", sa.Column("expired_before", sa.BigInteger(), nullable=True))
    op.create_check_constraint("ck_points_entry_expiry_key", "points_entry",
                               "(kind = 'expire') = (expired_before IS NOT NULL)")
    op.create_index("uq_points_entry_expiry", "points_entry", ["user_id", "expired_before"],
                    unique=True, postgresql_where=sa.text("kind = 'expire'"))
    op.create_index("ix_points_entry_earned", "points_entry", ["user_id", "created_at"],
                    postgresql_where=sa.text("kind = 'earn'"))
    op.add_column("redemption", sa.Column("kg", sa.BigInteger(), nullable=True))
    op.execute("UPDATE redemption SET kg = quantity * 1000")  # a whole credit is 1,000 kg
    op.alter_column("redemption", "kg", nullable=False)
    op.alter_column("redemption", "quantity", nullable=True)
    op.create_check_constraint("ck_redemption_kg_units", "redemption", "kg > 0 AND kg % 10 = 0")


def downgrade() -> None:
    op.drop_constraint("ck_redemption_kg_units", "redemption", type_="check")
    # A pooled redemption has no whole-credit form: refuse rather than drop a citizen's record.
    pooled = op.get_bind().execute(sa.text("SELECT count(*) FROM redemption "
                                           "WHERE quantity IS NULL")).scalar()
    if pooled:
        raise RuntimeError(f"{pooled} pooled redemptions cannot be expressed in whole credits")
    op.alter_column("redemption", "quantity", nullable=False)
    op.drop_column("redemption", "kg")
    op.drop_index("ix_points_entry_earned", table_name="points_entry")
    op.drop_index("uq_points_entry_expiry", table_name="points_entry")
    op.drop_constraint("ck_points_entry_expiry_key", "points_entry", type_="check")
    op.drop_column("points_entry", "expired_before")
