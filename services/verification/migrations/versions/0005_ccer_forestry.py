"""ccer forestry (issue 13): CCER-14-001-V01 kinds, vegetation and land eligibility; reversals;
loss events

The same tables and constraints are declared in store/tables.py (the schema source); each says
why there.

Existing projects: the former `bamboo` kind becomes `afforestation` with vegetation `bamboo`
(CCER-14-001-V01 covers bamboo as a vegetation type of afforestation, so nothing about such a
project changes but its label); `afforestation` rows get vegetation `tree`; `forest_management`
rows keep their kind (no current CCER methodology exists to map them to, and renaming them
afforestation would claim land eligibility they never showed) with vegetation `tree`. None of
them has a methodology: they were filed before the land-eligibility fields existed, so
ck_project_ccer_eligibility does not apply to them, and a crediting period filed as up to 60
years is kept as filed (shortening a registered project's period would withdraw credits the
registry may already have issued). Every new filing records CCER-14-001-V01 and is checked.

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TCO2E = sa.Numeric(20, 4)

NEW_CHECKS = {
    "project": {
        "ck_project_kind": "kind IN ('afforestation', 'forest_management') AND "
                           "(kind = 'afforestation' OR methodology IS NULL)",
        "ck_project_vegetation": "vegetation IN ('tree', 'bamboo', 'shrub')",
        "ck_project_ccer_eligibility": (
            "methodology IS NULL OR (methodology = 'CCER-14-001-V01' AND "
            "crediting_years BETWEEN 20 AND 40 AND "
            "non_forest_since <= (crediting_start - INTERVAL '3 years')::date AND "
            "smallest_parcel_m2 >= 400 AND smallest_parcel_m2 <= area_ha * 10000 AND "
            "NOT land_is_wetland AND NOT burning_site_preparation)"),
    },
    "monitoring_report": {
        "ck_monitoring_claim_nonzero": "claim_tco2e <> 0",
        "ck_monitoring_verified_quantity": "(claim_tco2e > 0 AND verified_tco2e > 0 AND "
                                           "verified_tco2e <= claim_tco2e) OR "
                                           "(claim_tco2e < 0 AND verified_tco2e < 0)",
        "ck_monitoring_verified_state": "(state IN ('verified', 'issued')) = "
                                        "(verified_tco2e IS NOT NULL) AND "
                                        "(issuance_id IS NOT NULL) = "
                                        "(state IN ('verified', 'issued') AND claim_tco2e > 0)",
    },
    "verification": {
        "ck_verification_decision": "decision IN ('verified', 'rejected') AND "
                                    "(decision = 'verified') = (verified_tco2e IS NOT NULL) AND "
                                    "verified_tco2e <> 0",
    },
}

OLD_CHECKS = {
    "project": {
        "ck_project_kind": "kind IN ('afforestation', 'forest_management', 'bamboo')",
    },
    "monitoring_report": {
        "ck_monitoring_claim_positive": "claim_tco2e > 0",
        "ck_monitoring_verified_quantity": "verified_tco2e > 0 AND verified_tco2e <= claim_tco2e",
        "ck_monitoring_verified_state": "(state IN ('verified', 'issued')) = "
                                        "(verified_tco2e IS NOT NULL AND issuance_id IS NOT NULL)",
    },
    "verification": {
        "ck_verification_decision": "decision IN ('verified', 'rejected') AND "
                                    "(decision = 'verified') = (verified_tco2e IS NOT NULL) AND "
                                    "verified_tco2e > 0",
    },
}

CAUSES = "'fire', 'pests', 'logging', 'other', 'reversal'"


def _swap_checks(drop: dict, create: dict) -> None:
    for table, checks in drop.items():
        for name in checks:
            op.drop_constraint(name, table)
    for table, checks in create.items():
        for name, condition in checks.items():
            op.create_check_constraint(name, table, condition)


def upgrade() -> None:
    op.add_column("project", sa.Column("methodology", sa.String, nullable=True))
    op.add_column("project", sa.Column("vegetation", sa.String, nullable=False,
                                       server_default="tree"))
    op.alter_column("project", "vegetation", server_default=None)
    op.add_column("project", sa.Column("non_forest_since", sa.Date, nullable=True))
    op.add_column("project", sa.Column("smallest_parcel_m2", sa.Numeric(14, 2), nullable=True))
    op.add_column("project", sa.Column("land_is_wetland", sa.Boolean, nullable=True))
    op.add_column("project", sa.Column("burning_site_preparation", sa.Boolean, nullable=True))
    op.drop_constraint("ck_project_kind", "project")  # before `bamboo` rows are relabelled
    op.execute("UPDATE project SET kind = 'afforestation', vegetation = 'bamboo' "
               "WHERE kind = 'bamboo'")
    _swap_checks({t: c for t, c in OLD_CHECKS.items() if t != "project"},
                 NEW_CHECKS)

    op.create_table(
        "loss_event",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("project_id", sa.String, nullable=False),
        sa.Column("cause", sa.String, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("area_ha", sa.Numeric(12, 4), nullable=False),
        sa.Column("estimated_tco2e", TCO2E, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("reported_by_user_id", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("monitoring_report_id", sa.String, nullable=True),
        sa.Column("verified_tco2e", TCO2E, nullable=True),
        sa.Column("decided_by_user_id", sa.String, nullable=True),
        sa.Column("decided_by_username", sa.String, nullable=True),
        sa.Column("accreditation_id", sa.String, nullable=True),
        sa.Column("accreditation_number", sa.String, nullable=True),
        sa.Column("decision_comments", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("required_credits", sa.Integer, nullable=True),
        sa.Column("from_pool", sa.Integer, nullable=True),
        sa.Column("from_developer", sa.Integer, nullable=True),
        sa.Column("shortfall", sa.Integer, nullable=True),
        sa.Column("compensated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name="loss_event_project_id_fkey"),
        sa.ForeignKeyConstraint(["monitoring_report_id"], ["monitoring_report.id"],
                                name="loss_event_monitoring_report_id_fkey"),
        sa.ForeignKeyConstraint(["accreditation_id"], ["verifier_accreditation.accreditation_id"],
                                name="loss_event_accreditation_id_fkey"),
        sa.UniqueConstraint("monitoring_report_id", name="loss_event_monitoring_report_id_key"),
        sa.CheckConstraint(f"cause IN ({CAUSES}) AND "
                           "(cause = 'reversal') = (monitoring_report_id IS NOT NULL)",
                           name="ck_loss_event_cause"),
        sa.CheckConstraint("state IN ('reported', 'verified', 'rejected', 'compensated')",
                           name="ck_loss_event_state"),
        sa.CheckConstraint("estimated_tco2e > 0 AND area_ha > 0", name="ck_loss_event_figures"),
        sa.CheckConstraint("(state <> 'reported') = (decided_at IS NOT NULL AND "
                           "accreditation_id IS NOT NULL AND accreditation_number IS NOT NULL "
                           "AND decided_by_user_id IS NOT NULL)",
                           name="ck_loss_event_decided"),
        sa.CheckConstraint("(state IN ('verified', 'compensated')) = "
                           "(verified_tco2e IS NOT NULL AND verified_tco2e > 0)",
                           name="ck_loss_event_verified"),
        sa.CheckConstraint("(state = 'compensated') = (compensated_at IS NOT NULL AND "
                           "required_credits IS NOT NULL AND from_pool IS NOT NULL AND "
                           "from_developer IS NOT NULL AND shortfall IS NOT NULL)",
                           name="ck_loss_event_compensated"),
        sa.CheckConstraint("from_pool >= 0 AND from_developer >= 0 AND shortfall >= 0 AND "
                           "from_pool + from_developer + shortfall = required_credits",
                           name="ck_loss_event_compensation_split"),
    )
    op.create_index("ix_loss_event_project_id", "loss_event", ["project_id"])
    op.create_index("ix_loss_event_state", "loss_event", ["state"])
    op.add_column("project_timeline", sa.Column("loss_event_id", sa.String, nullable=True))
    op.create_foreign_key("project_timeline_loss_event_id_fkey", "project_timeline",
                          "loss_event", ["loss_event_id"], ["id"])


def downgrade() -> None:
    # Reversal reports and loss events have no place in the older schema: they go with it.
    op.drop_constraint("project_timeline_loss_event_id_fkey", "project_timeline")
    op.execute("DELETE FROM project_timeline WHERE loss_event_id IS NOT NULL")
    op.drop_column("project_timeline", "loss_event_id")
    op.drop_table("loss_event")
    op.execute("DELETE FROM project_timeline WHERE monitoring_report_id IN "
               "(SELECT id FROM monitoring_report WHERE claim_tco2e < 0)")
    op.execute("DELETE FROM document WHERE monitoring_report_id IN "
               "(SELECT id FROM monitoring_report WHERE claim_tco2e < 0)")
    op.execute("DELETE FROM verification WHERE monitoring_report_id IN "
               "(SELECT id FROM monitoring_report WHERE claim_tco2e < 0)")
    op.execute("DELETE FROM monitoring_report WHERE claim_tco2e < 0")
    _swap_checks(NEW_CHECKS, {t: c for t, c in OLD_CHECKS.items()})
    # restores the bamboo kind; a shrub project becomes plain afforestation (its nearest kind)
    op.drop_constraint("ck_project_kind", "project")
    op.execute("UPDATE project SET kind = 'bamboo' WHERE vegetation = 'bamboo'")
    op.create_check_constraint("ck_project_kind", "project", OLD_CHECKS["project"]["ck_project_kind"])
    for column in ("burning_site_preparation", "land_is_wetland", "smallest_parcel_m2",
                   "non_forest_since", "vegetation", "methodology"):
        op.drop_column("project", column)
