"""accreditation: admin-granted verifiers and transit operators, operators' OAuth clients

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tanhui_shared.web.trusted_keys import add_key_retirement, drop_key_retirement

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_key_retirement(op, "published_signing_key")  # SigningKeyRetired: no longer in the JWKS
    # gist over plain equality (user_id) beside the date-range overlap needs btree_gist
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "accreditation",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("organisation", sa.String, nullable=False),
        sa.Column("number", sa.String, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
        sa.Column("modes", postgresql.ARRAY(sa.String), nullable=False),
        sa.Column("granted_by", sa.String, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String, nullable=True),
        sa.Column("revocation_reason", sa.String, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name="fk_accreditation_user"),
        sa.CheckConstraint("role IN ('verifier', 'transit_operator')",
                           name="ck_accreditation_role"),
        sa.CheckConstraint("valid_to >= valid_from", name="ck_accreditation_dates"),
        sa.CheckConstraint("(role = 'transit_operator') = (cardinality(modes) > 0)",
                           name="ck_accreditation_modes"),
        sa.CheckConstraint("modes <@ ARRAY['walk', 'bike', 'bus', 'metro', 'ev']::varchar[]",
                           name="ck_accreditation_modes_known"),
        sa.CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL) AND "
                           "(revoked_at IS NULL) = (revocation_reason IS NULL)",
                           name="ck_accreditation_revocation"),
    )
    # at most one unrevoked grant per user on any day
    op.execute("ALTER TABLE accreditation ADD CONSTRAINT ex_accreditation_one_live_grant "
               "EXCLUDE USING gist (user_id WITH =, daterange(valid_from, valid_to, '[]') WITH &&) "
               "WHERE (revoked_at IS NULL)")
    op.create_table(
        "oauth_client",
        sa.Column("client_id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("secret_hash", sa.String, nullable=False),
        sa.Column("previous_secret_hash", sa.String, nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name="fk_oauth_client_user"),
        sa.UniqueConstraint("user_id", name="uq_oauth_client_user"),
        sa.CheckConstraint("(previous_secret_hash IS NULL) = (previous_valid_until IS NULL)",
                           name="ck_oauth_client_previous_secret"),
    )
    # Verifiers and transit operators that registered themselves before this revision hold no
    # grant, so they get no token from now on; an admin accredits the real bodies anew.


def downgrade() -> None:
    drop_key_retirement(op, "published_signing_key")
    op.drop_table("oauth_client")
    op.drop_table("accreditation")
