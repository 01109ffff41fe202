"""projects, timeline, monitoring reports, verifications, documents, registry counter, idempotency

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

from tanhui_shared.web.idempotency import create_idempotency_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TCO2E = sa.Numeric(20, 4)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_idempotency_table(op)
    op.create_table(
        "project",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("project_number", sa.Integer, nullable=True, unique=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("county", sa.String, nullable=False),
        sa.Column("area_ha", sa.Numeric(12, 4), nullable=False),
        sa.Column("forest_rights_holder", sa.String, nullable=False),
        sa.Column("forest_rights_certificate", sa.String, nullable=False),
        sa.Column("crediting_start", sa.Date, nullable=False),
        sa.Column("crediting_years", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("developer_user_id", sa.String, nullable=False),
        sa.Column("developer_username", sa.String, nullable=False),
        sa.Column("buffer_pct", sa.Numeric(5, 2), nullable=True),
        sa.Column("approved_by_user_id", sa.String, nullable=True),
        _ts("created_at"),
        _ts("registered_at", nullable=True),
    )
    op.create_index("ix_project_developer_user_id", "project", ["developer_user_id"])
    op.create_index("ix_project_state", "project", ["state"])
    # One active project per forest-rights certificate; a rejected project frees its certificate.
    op.create_index("ux_project_active_certificate", "project", ["forest_rights_certificate"],
                    unique=True,
                    postgresql_where=sa.text("state <> 'rejected'"))
    op.create_table(
        "project_timeline",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("step", sa.String, nullable=False),
        sa.Column("from_state", sa.String, nullable=True),
        sa.Column("to_state", sa.String, nullable=False),
        sa.Column("monitoring_report_id", sa.String, nullable=True),
        sa.Column("actor_user_id", sa.String, nullable=False),
        sa.Column("actor_username", sa.String, nullable=False),
        sa.Column("actor_role", sa.String, nullable=False),
        sa.Column("comments", sa.Text, nullable=False),
        _ts("occurred_at"),
    )
    op.create_index("ix_project_timeline_project_id", "project_timeline", ["project_id", "seq"])
    op.create_table(
        "monitoring_report",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("project_id", sa.String, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("project_sink_tco2e", TCO2E, nullable=False),
        sa.Column("baseline_sink_tco2e", TCO2E, nullable=False),
        sa.Column("leakage_tco2e", TCO2E, nullable=False),
        sa.Column("claim_tco2e", TCO2E, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("submitted_by_user_id", sa.String, nullable=False),
        _ts("created_at"),
        sa.Column("verified_tco2e", TCO2E, nullable=True),
        sa.Column("issuance_id", sa.String, nullable=True, unique=True),
        sa.Column("issued_quantity", sa.Integer, nullable=True),
        sa.Column("buffer_quantity", sa.Integer, nullable=True),
        sa.Column("serial_first", sa.String, nullable=True),
        sa.Column("serial_last", sa.String, nullable=True),
        _ts("issued_at", nullable=True),
        sa.CheckConstraint("period_end > period_start", name="ck_monitoring_period"),
        sa.CheckConstraint("claim_tco2e > 0", name="ck_monitoring_claim_positive"),
    )
    op.create_index("ix_monitoring_report_project_id", "monitoring_report", ["project_id"])
    op.create_index("ix_monitoring_report_state", "monitoring_report", ["state"])
    op.create_table(
        "verification",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("monitoring_report_id", sa.String, sa.ForeignKey("monitoring_report.id"),
                  nullable=False, unique=True),
        sa.Column("decision", sa.String, nullable=False),
        sa.Column("verified_tco2e", TCO2E, nullable=True),
        sa.Column("comments", sa.Text, nullable=False),
        sa.Column("verifier_user_id", sa.String, nullable=False),
        sa.Column("verifier_username", sa.String, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "document",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("monitoring_report_id", sa.String, sa.ForeignKey("monitoring_report.id"),
                  nullable=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_document_project_id", "document", ["project_id"])
    op.create_index("ix_document_monitoring_report_id", "document", ["monitoring_report_id"])
    op.create_table(
        "registry_counter",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    op.bulk_insert(sa.table("registry_counter", sa.column("name", sa.String),
                            sa.column("value", sa.Integer)),
                   [{"name": "project_number", "value": 0}])


def downgrade() -> None:
    op.drop_table("registry_counter")
    op.drop_table("document")
    op.drop_table("verification")
    op.drop_table("monitoring_report")
    op.drop_table("project_timeline")
    op.drop_table("project")
    op.drop_table("idempotency_record")
