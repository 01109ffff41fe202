"""users' journeys in credits (issue 14): purchases from listings, and the owner-scoped lists

`listing_purchase` records a buyer taking credits from a listing into its own holding (its
checks: a positive quantity, a total of exactly quantity x price, never the seller itself);
the seller's listings and the retirements a user made get an index each, for the lists of
GET /listings?mine=true and GET /retirements?mine=true.

Revision ID: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listing_purchase",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("listing_id", sa.String, nullable=False, index=True),
        sa.Column("buyer_account_id", sa.String, nullable=False),
        sa.Column("buyer_user_id", sa.String, nullable=False, index=True),
        sa.Column("seller_account_id", sa.String, nullable=False),
        sa.Column("seller_user_id", sa.String, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price_per_tonne", sa.Numeric(18, 2), nullable=False),
        sa.Column("price_total", sa.Numeric(20, 2), nullable=False),
        sa.Column("entry_id", sa.String, nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["listing_id"], ["listing.id"], name="fk_listing_purchase_listing"),
        sa.ForeignKeyConstraint(["buyer_account_id"], ["holding_account.id"],
                                name="fk_listing_purchase_buyer"),
        sa.CheckConstraint("quantity > 0", name="ck_listing_purchase_quantity"),
        sa.CheckConstraint("price_total = quantity * price_per_tonne",
                           name="ck_listing_purchase_total"),
        sa.CheckConstraint("buyer_account_id <> seller_account_id",
                           name="ck_listing_purchase_parties"),
    )
    op.create_index("ix_listing_seller_user_id", "listing", ["seller_user_id"])
    op.create_index("ix_retirement_retired_by_user_id", "retirement", ["retired_by_user_id"])


def downgrade() -> None:
    op.drop_index("ix_retirement_retired_by_user_id", "retirement")
    op.drop_index("ix_listing_seller_user_id", "listing")
    op.drop_table("listing_purchase")
