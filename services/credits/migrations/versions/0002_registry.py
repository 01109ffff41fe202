"""the registry: projects, issuances, serial blocks, audit chain, retirements, certificates,
reports, redemptions, large events, listings, payments; system accounts; idempotency records

Revision ID: 0002
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tanhui_shared.web.idempotency import create_idempotency_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
SYSTEM_ACCOUNTS = (  # (id, owner_user_id, username): see store/accounts.py
    ("system-buffer-pool", "system:registry-buffer-pool", "registry-buffer-pool"),
    ("system-city-inclusion-pool", "system:city-inclusion-pool", "city-inclusion-pool"),
)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_idempotency_table(op)
    op.create_index("ix_holding_account_owner_username", "holding_account", ["owner_username"])
    op.create_table(
        "registry_project",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("project_number", sa.Integer, nullable=False, unique=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("county", sa.String, nullable=False),
        sa.Column("owner_user_id", sa.String, nullable=False),
    )
    op.create_table(
        "issuance",
        sa.Column("id", sa.String, primary_key=True),  # issuance_id: issued exactly once
        sa.Column("project_id", sa.String, nullable=False, index=True),
        sa.Column("vintage", sa.Integer, nullable=False),
        sa.Column("monitoring_report_id", sa.String, nullable=False),
        sa.Column("verification_id", sa.String, nullable=False),
        sa.Column("verifier_user_id", sa.String, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("verified_tco2e", sa.Numeric(18, 3), nullable=False),
        sa.Column("buffer_pct", sa.Numeric(5, 2), nullable=False),
        sa.Column("owner_account_id", sa.String, nullable=False),
        sa.Column("owner_quantity", sa.Integer, nullable=False),
        sa.Column("buffer_quantity", sa.Integer, nullable=False),
        sa.Column("serial_first", sa.Integer, nullable=False),
        sa.Column("serial_last", sa.Integer, nullable=False),
        _when("issued_at"),
        sa.Column("caused_by_event", sa.String, nullable=False),
    )
    op.create_table(
        "serial_counter",
        sa.Column("project_id", sa.String, primary_key=True),
        sa.Column("vintage", sa.Integer, primary_key=True),
        sa.Column("next_serial", sa.Integer, nullable=False),
    )
    op.create_table(
        "serial_block",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String, nullable=False, index=True),
        sa.Column("project_number", sa.Integer, nullable=False),
        sa.Column("vintage", sa.Integer, nullable=False),
        sa.Column("first", sa.Integer, nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.Column("account_id", sa.String, nullable=False, index=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("parent_block_id", sa.Integer, sa.ForeignKey("serial_block.id"), nullable=True),
        sa.Column("issuance_id", sa.String, sa.ForeignKey("issuance.id"), nullable=False),
        sa.Column("listing_id", sa.String, nullable=True, index=True),
        sa.Column("retirement_id", sa.String, nullable=True),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("closed_by", sa.String, nullable=True),
        _when("created_at"),
        sa.CheckConstraint('"first" >= 1 AND "first" <= "last"', name="ck_block_range"),
        sa.CheckConstraint("status IN ('active', 'retired', 'superseded')", name="ck_block_status"),
    )
    op.create_index("ix_serial_block_serials", "serial_block",
                    ["project_number", "vintage", "first", "last"])
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entry_id", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(audit_head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])
    op.create_table(
        "retirement",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("account_id", sa.String, nullable=False),
        sa.Column("retired_by_user_id", sa.String, nullable=True),
        sa.Column("beneficiary", sa.String, nullable=False),
        sa.Column("purpose", sa.String, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("report_id", sa.String, nullable=True),
        sa.Column("event_id", sa.String, nullable=True, index=True),
        sa.Column("redemption_id", sa.String, nullable=True, unique=True),
        sa.Column("certificate_id", sa.String, nullable=False),
        _when("retired_at"),
    )
    op.create_table(
        "certificate",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("retirement_id", sa.String, nullable=False, unique=True),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "filed_report",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("enterprise_id", sa.String, nullable=False),
        sa.Column("enterprise_name", sa.String, nullable=False),
        sa.Column("period", sa.String, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("total_tco2e", sa.Numeric(18, 3), nullable=False),
        sa.Column("member_user_ids", sa.Text, nullable=False),
    )
    op.create_table(
        "redemption",
        sa.Column("id", sa.String, primary_key=True),  # redemption_id: settled exactly once
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=True),
        sa.Column("certificate_id", sa.String, nullable=True),
        _when("settled_at"),
    )
    op.create_table(
        "large_event",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("organizer_user_id", sa.String, nullable=False, index=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("venue", sa.String, nullable=False),
        sa.Column("attendees", sa.Integer, nullable=False),
        sa.Column("activity", sa.Text, nullable=False),
        sa.Column("estimate", sa.Text, nullable=False),
        sa.Column("total_tco2e", sa.Numeric(18, 6), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "listing",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("seller_account_id", sa.String, nullable=False),
        sa.Column("seller_user_id", sa.String, nullable=False),
        sa.Column("project_id", sa.String, nullable=True),
        sa.Column("vintage", sa.Integer, nullable=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("remaining", sa.Integer, nullable=False),
        sa.Column("price_per_tonne", sa.Numeric(18, 2), nullable=False, index=True),
        sa.Column("status", sa.String, nullable=False),
        _when("created_at"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= quantity", name="ck_listing_remaining"),
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("listing_id", sa.String, sa.ForeignKey("listing.id"), nullable=False, index=True),
        sa.Column("event_id", sa.String, sa.ForeignKey("large_event.id"), nullable=False,
                  index=True),
        sa.Column("seller_account_id", sa.String, nullable=False),
        sa.Column("seller_user_id", sa.String, nullable=False),
        sa.Column("buyer_user_id", sa.String, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price_per_tonne", sa.Numeric(18, 2), nullable=False),
        sa.Column("amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("retirement_id", sa.String, nullable=False),
        _when("created_at"),
    )
    accounts = sa.table("holding_account", sa.column("id"), sa.column("owner_user_id"),
                        sa.column("owner_username"), sa.column("kind"),
                        sa.column("opened_at", sa.DateTime(timezone=True)),
                        sa.column("opened_by_event"))
    op.bulk_insert(accounts, [
        {"id": account_id, "owner_user_id": owner, "owner_username": username, "kind": "system",
         "opened_at": datetime.now(UTC), "opened_by_event": "migration:0002"}
        for account_id, owner, username in SYSTEM_ACCOUNTS])


def downgrade() -> None:
    op.execute("DELETE FROM holding_account WHERE kind = 'system'")
    for table in ("payment", "listing", "large_event", "redemption", "filed_report", "certificate",
                  "retirement", "audit_head", "audit_entry"):
        op.drop_table(table)
    op.drop_index("ix_serial_block_serials", "serial_block")
    for table in ("serial_block", "serial_counter", "issuance", "registry_project"):
        op.drop_table(table)
    op.drop_index("ix_holding_account_owner_username", "holding_account")
    op.drop_table("idempotency_record")
