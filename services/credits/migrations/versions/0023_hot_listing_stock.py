"""A listing's remaining and status move to listing_stock, a row of their own that no foreign key
references (issue 15, the hot listing): blocks' and payments' foreign keys, and the offsets in
flight, hold the listing's row FOR KEY SHARE while every sale updated it, so its versions
carried MultiXacts that every read resolved (GetMultiXactIdMembers, 9% of a hot purchase's
backend CPU). The stock references the listing by (id, quantity): one per listing, counting
down that listing's own quantity. The constraints on remaining and status move with them,
names kept.

hot_listing_sale: revision 0021's frozen copy with its three reads and writes of the listing's
remaining and status made on the stock (as store/hot_listing.DDL, which a database built from
the models gets).

Revision ID: 0023_hot_listing_stock
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_hot_listing_stock"
down_revision = "0022_account_lock_no_key_update"
branch_labels = None
depends_on = None

BEFORE = "0021_offset_one_call"  # the revision whose hot_listing_sale is changed here

CHECKS = (("ck_listing_remaining", "remaining >= 0 AND remaining <= quantity"),
          ("ck_listing_status", "status IN ('open', 'sold_out', 'cancelled')"),
          ("ck_listing_open", "(status = 'open') = (remaining > 0)"))

# (revision 0021's text, this revision's): each found exactly once
CHANGES = (
    ("""    SELECT c.id, c.seller_account_id, c.seller_user_id, c.price_per_tonne, c.remaining
    INTO v_listing, v_seller, v_seller_user, v_price, v_remaining
    FROM listing c WHERE c.status = 'open' ORDER BY c.price_per_tonne, c.id LIMIT 1
    FOR KEY SHARE;""",
     """    SELECT c.id, c.seller_account_id, c.seller_user_id, c.price_per_tonne, k.remaining
    INTO v_listing, v_seller, v_seller_user, v_price, v_remaining
    FROM listing c JOIN listing_stock k ON k.listing_id = c.id WHERE k.status = 'open'
    ORDER BY c.price_per_tonne, c.id LIMIT 1 FOR KEY SHARE OF c;"""),
    ("""            IF (SELECT l.remaining FROM listing l WHERE l.id = v_listing) < wanted THEN""",
     """            IF (SELECT k.remaining FROM listing_stock k WHERE k.listing_id = v_listing)
               < wanted THEN"""),
    ("""    -- last, the listing's remaining: its row lock, which purchases from it queue for, is held
    -- from here to the end of the COMMIT. Checked again on the row as the purchase before
    -- committed it: a listing whose blocks hold more than it says it has left is not oversold
    UPDATE listing l SET remaining = l.remaining - wanted,
           status = CASE WHEN l.remaining = wanted THEN 'sold_out' ELSE 'open' END
    WHERE l.id = v_listing AND l.status = 'open' AND l.remaining >= wanted;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'listing % has fewer than % credits left', v_listing, wanted
            USING ERRCODE = 'TH151',
                  DETAIL = (SELECT l.remaining FROM listing l WHERE l.id = v_listing)::text;""",
     """    -- last, the listing's remaining (its stock's row, which no foreign key references: the
    -- listing's row, share-locked by every purchase in flight, stays unchanged): its row lock,
    -- which purchases from it queue for, is held from here to the end of the COMMIT. Checked
    -- again on the row as the purchase before committed it: a listing whose blocks hold more
    -- than it says it has left is not oversold
    UPDATE listing_stock k SET remaining = k.remaining - wanted,
           status = CASE WHEN k.remaining = wanted THEN 'sold_out' ELSE 'open' END
    WHERE k.listing_id = v_listing AND k.status = 'open' AND k.remaining >= wanted;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'listing % has fewer than % credits left', v_listing, wanted
            USING ERRCODE = 'TH151',
                  DETAIL = (SELECT k.remaining FROM listing_stock k
                            WHERE k.listing_id = v_listing)::text;"""),
)


def _sale(*, stocked: bool) -> str:
    from alembic import context  # the revision before: its own frozen copy
    text = context.script.get_revision(BEFORE).module.SALE
    if stocked:
        for old, new in CHANGES:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
    return text


def upgrade() -> None:
    op.create_unique_constraint("uq_listing_quantity", "listing", ["id", "quantity"])
    op.create_table(
        "listing_stock",
        sa.Column("listing_id", sa.String, primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("remaining", sa.Integer, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.ForeignKeyConstraint(["listing_id", "quantity"], ["listing.id", "listing.quantity"],
                                name="fk_listing_stock_listing"),
    )
    op.execute("INSERT INTO listing_stock (listing_id, quantity, remaining, status) "
                "SELECT id, quantity, remaining, status FROM listing")
    for name, condition in CHECKS:
        op.drop_constraint(name, "listing", type_="check")
        op.create_check_constraint(name, "listing_stock", condition)
    op.drop_column("listing", "remaining")
    op.drop_column("listing", "status")
    op.execute(_sale(stocked=True))


def downgrade() -> None:
    op.add_column("listing", sa.Column("remaining", sa.Integer, nullable=True))
    op.add_column("listing", sa.Column("status", sa.String, nullable=True))
    op.execute("UPDATE listing l SET remaining = k.remaining, status = k.status "
               "FROM listing_stock k WHERE k.listing_id = l.id")
    op.alter_column("listing", "remaining", nullable=False)
    op.alter_column("listing", "status", nullable=False)
    op.drop_table("listing_stock")
    for name, condition in CHECKS:
        op.create_check_constraint(name, "listing", condition)
    op.drop_constraint("uq_listing_quantity", "listing", type_="unique")
    op.execute(_sale(stocked=False))
