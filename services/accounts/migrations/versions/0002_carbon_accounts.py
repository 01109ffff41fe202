"""enterprise carbon accounts (factors, enterprises, reports) and personal carbon accounts

Revision ID: 0002
"""
import json
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from tanhui_accounts.domain.factors import STARTING_FACTORS
from tanhui_shared.web.idempotency import create_idempotency_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_idempotency_table(op)
    factors = op.create_table(
        "emission_factor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String, nullable=False),
        sa.Column("version", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("scope", sa.Integer, nullable=False),
        sa.Column("activity_unit", sa.String, nullable=False),
        sa.Column("value", sa.Numeric(24, 12), nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("components", sa.Text),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("superseded_at", TS),
        sa.UniqueConstraint("code", "version"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(factors, [
        {"code": f.code, "version": f.version, "name": f.name, "scope": f.scope,
         "activity_unit": f.activity_unit, "value": f.value.quantize(Decimal("1e-12")),
         "source": f.source, "valid_from": f.valid_from, "valid_to": f.valid_to,
         "components": json.dumps({k: str(v) for k, v in vars(f.components).items()}) if f.components else None,
         "published_at": now, "superseded_at": None}
        for f in STARTING_FACTORS
    ])
    op.create_table(
        "enterprise",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False, unique=True),
        sa.Column("county", sa.String, nullable=False),
        sa.Column("industry", sa.String, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "enterprise_member",
        sa.Column("enterprise_id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, primary_key=True),
    )
    op.create_table(
        "carbon_report",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("enterprise_id", sa.String, nullable=False, index=True),
        sa.Column("period", sa.String, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("supersedes_id", sa.String),
        sa.Column("scope1_tco2e", sa.Numeric(20, 4), nullable=False),
        sa.Column("scope2_tco2e", sa.Numeric(20, 4), nullable=False),
        sa.Column("total_tco2e", sa.Numeric(20, 4), nullable=False),
        sa.Column("filed_by", sa.String, nullable=False),
        sa.Column("filed_at", TS, nullable=False),
        # one revision number per period: two concurrent filings cannot both be revision 1
        sa.UniqueConstraint("enterprise_id", "period", "revision"),
    )
    op.create_table(
        "report_line",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String, nullable=False, index=True),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("factor_code", sa.String, nullable=False),
        sa.Column("factor_version", sa.String, nullable=False),
        sa.Column("factor_value", sa.Numeric(24, 12), nullable=False),
        sa.Column("factor_unit", sa.String, nullable=False),
        sa.Column("factor_source", sa.String, nullable=False),
        sa.Column("scope", sa.Integer, nullable=False),
        sa.Column("quantity", sa.Numeric(24, 6), nullable=False),
        sa.Column("unit", sa.String, nullable=False),
        sa.Column("tco2e", sa.Numeric(20, 4), nullable=False),
        sa.Column("derivation", sa.Text, nullable=False),
    )
    op.create_table(
        "report_retirement",
        sa.Column("retirement_id", sa.String, primary_key=True),
        sa.Column("report_id", sa.String, nullable=False, index=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("certificate_id", sa.String, nullable=False),
        sa.Column("retired_at", TS, nullable=False),
    )
    op.create_table(
        "points_account",
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("reduction_g", sa.Numeric(20, 1), nullable=False),
        # the database refuses what the ledger must never show, whatever the code does
        sa.CheckConstraint("held >= 0 AND held <= balance", name="points_never_negative"),
    )
    op.create_table(
        "points_entry",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("held_after", sa.BigInteger, nullable=False),
        sa.Column("trip_id", sa.String),
        sa.Column("redemption_id", sa.String),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("points > 0", name="entry_points_positive"),
    )
    op.create_index("ix_points_entry_user", "points_entry", ["user_id", "id"])
    # a redemption is held, and settled or released, at most once each
    op.create_index("ux_points_entry_redemption", "points_entry", ["redemption_id", "kind"],
                    unique=True, postgresql_where=sa.text("redemption_id IS NOT NULL"))
    op.create_table(
        "green_trip",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("mode", sa.String, nullable=False),
        sa.Column("distance_km", sa.Numeric(10, 3), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("local_day", sa.Date, nullable=False),
        sa.Column("external_id", sa.String, nullable=False),
        sa.Column("recorded_by", sa.String, nullable=False),
        sa.Column("reduction_g", sa.Numeric(14, 1), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("capped_by", sa.String),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "external_id", name="ux_trip_external_id"),
    )
    op.create_index("ix_green_trip_user_time", "green_trip", ["user_id", "started_at"])
    op.create_table(
        "redemption",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False, index=True),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("reason", sa.String),
        sa.Column("certificate_id", sa.String),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("settled_at", TS),
    )


def downgrade() -> None:
    for table in ("redemption", "green_trip", "points_entry", "points_account", "report_retirement",
                  "report_line", "carbon_report", "enterprise_member", "enterprise",
                  "emission_factor", "idempotency_record"):
        op.drop_table(table)
