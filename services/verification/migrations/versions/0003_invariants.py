"""invariants the database enforces: states, periods, quantities, one decision and one issuance
per report, no overlapping reported periods, one review decision per project

The same constraints are declared in store/tables.py (the schema source); each says why there.
Existing unique constraints and foreign keys keep the names PostgreSQL gave them in 0002.

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHECKS = {
    "project": {
        "ck_project_state": "state IN ('draft', 'submitted', 'changes_requested', 'registered', "
                            "'rejected')",
        "ck_project_kind": "kind IN ('afforestation', 'forest_management', 'bamboo')",
        "ck_project_area": "area_ha > 0 AND area_ha <= 100000",
        "ck_project_crediting_window": "crediting_start BETWEEN DATE '1990-01-01' AND "
                                       "DATE '2100-12-31' AND crediting_years BETWEEN 1 AND 100",
        "ck_project_buffer_pct": "buffer_pct BETWEEN 10 AND 30",
        "ck_project_registration": "(state = 'registered') = (project_number IS NOT NULL AND "
                                   "buffer_pct IS NOT NULL AND approved_by_user_id IS NOT NULL "
                                   "AND registered_at IS NOT NULL)",
    },
    "monitoring_report": {
        "ck_monitoring_report_state": "state IN ('submitted', 'verified', 'rejected', 'issued')",
        "ck_monitoring_figures": "project_sink_tco2e >= 0 AND baseline_sink_tco2e >= 0 AND "
                                 "leakage_tco2e >= 0 AND claim_tco2e = project_sink_tco2e - "
                                 "baseline_sink_tco2e - leakage_tco2e",
        "ck_monitoring_verified_quantity": "verified_tco2e > 0 AND verified_tco2e <= claim_tco2e",
        "ck_monitoring_verified_state": "(state IN ('verified', 'issued')) = "
                                        "(verified_tco2e IS NOT NULL AND issuance_id IS NOT NULL)",
        "ck_monitoring_issued_state": "(state = 'issued') = (issued_quantity IS NOT NULL AND "
                                      "buffer_quantity IS NOT NULL AND serial_first IS NOT NULL "
                                      "AND serial_last IS NOT NULL AND issued_at IS NOT NULL)",
        "ck_monitoring_issued_quantities": "issued_quantity >= 0 AND buffer_quantity >= 0",
    },
    "verification": {
        "ck_verification_decision": "decision IN ('verified', 'rejected') AND "
                                    "(decision = 'verified') = (verified_tco2e IS NOT NULL) AND "
                                    "verified_tco2e > 0",
    },
    "document": {"ck_document_sha256": "sha256 ~ '^[0-9a-f]{64}$'"},
    "registry_counter": {"ck_registry_counter_value": "value >= 0"},
}


def upgrade() -> None:
    # btree_gist lets one exclusion constraint mix equality (project) and overlap (period);
    # a trusted extension, so the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for table, checks in CHECKS.items():
        for name, condition in checks.items():
            op.create_check_constraint(name, table, condition)
    op.execute("ALTER TABLE monitoring_report ADD CONSTRAINT ex_monitoring_report_period "
               "EXCLUDE USING gist (project_id WITH =, "
               "daterange(period_start, period_end, '[]') WITH &&) WHERE (state <> 'rejected')")
    op.create_foreign_key("project_timeline_monitoring_report_id_fkey", "project_timeline",
                          "monitoring_report", ["monitoring_report_id"], ["id"])
    op.create_index("ux_project_timeline_decided", "project_timeline", ["project_id"],
                    unique=True, postgresql_where=sa.text("step IN ('registered', 'rejected')"))
    op.create_index("ux_project_timeline_credits_issued", "project_timeline",
                    ["monitoring_report_id"], unique=True,
                    postgresql_where=sa.text("step = 'credits_issued'"))


def downgrade() -> None:
    op.drop_index("ux_project_timeline_credits_issued", "project_timeline")
    op.drop_index("ux_project_timeline_decided", "project_timeline")
    op.drop_constraint("project_timeline_monitoring_report_id_fkey", "project_timeline")
    op.drop_constraint("ex_monitoring_report_period", "monitoring_report")
    for table, checks in CHECKS.items():
        for name in checks:
            op.drop_constraint(name, table)
