"""invariants the database enforces: named uniques, points ranges, daily caps, one current report

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

from tanhui_accounts.domain.travel import ALL_MODES, RULES

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# PostgreSQL's default names from 0001/0002 -> the names the models declare (and describe)
RENAMED_CONSTRAINTS = [
    ("user_account", "user_account_username_key", "uq_user_account_username"),
    ("enterprise", "enterprise_uscc_key", "uq_enterprise_uscc"),
    ("emission_factor", "emission_factor_code_version_key", "uq_emission_factor_code_version"),
    ("carbon_report", "carbon_report_enterprise_id_period_revision_key",
     "uq_carbon_report_revision"),
    ("green_trip", "ux_trip_external_id", "uq_green_trip_external_id"),
    ("points_entry", "entry_points_positive", "ck_points_entry_points_positive"),
]

CHECKS = [
    # the database refuses what the ledger must never show, whichever path forgot its lock
    ("points_account", "ck_points_account_balance_not_negative", "balance >= 0"),
    ("points_account", "ck_points_account_held_within_balance", "held >= 0 AND held <= balance"),
    # the running figures an entry records obey the account's own ranges
    ("points_entry", "ck_points_entry_balance_after_not_negative", "balance_after >= 0"),
    ("points_entry", "ck_points_entry_held_after_within_balance",
     "held_after >= 0 AND held_after <= balance_after"),
    # a redemption buys at least one whole credit with the points it holds
    ("redemption", "ck_redemption_points_positive", "points > 0"),
    ("redemption", "ck_redemption_quantity_positive", "quantity > 0"),
]


def upgrade() -> None:
    for table, old, new in RENAMED_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")
    op.execute("ALTER INDEX ux_points_entry_redemption RENAME TO uq_points_entry_redemption_kind")
    # 0002's single check becomes two, each saying which range was left
    op.drop_constraint("points_never_negative", "points_account", type_="check")
    for table, name, condition in CHECKS:
        op.create_check_constraint(name, table, condition)
    # a redemption is never both settled and released
    op.create_index("uq_points_entry_redemption_outcome", "points_entry", ["redemption_id"],
                    unique=True, postgresql_where=sa.text("kind IN ('settle', 'release')"))

    # Never two current reports of one period (disclosures and retirements read "the" report);
    # should an older race have left two, the highest revision stays current.
    op.execute("""
        UPDATE carbon_report SET is_current = false
        WHERE is_current AND EXISTS (
            SELECT 1 FROM carbon_report later
            WHERE later.enterprise_id = carbon_report.enterprise_id
              AND later.period = carbon_report.period
              AND later.is_current AND later.revision > carbon_report.revision)
    """)
    op.create_index("uq_carbon_report_current", "carbon_report", ["enterprise_id", "period"],
                    unique=True, postgresql_where=sa.text("is_current"))

    # Daily caps as rows updated in each trip's transaction; the check refuses any sum above
    # the cap, so parallel trips cannot pass it even on a path that skipped the account lock.
    op.create_table(
        "daily_points",
        sa.Column("user_id", sa.String, primary_key=True),
        sa.Column("local_day", sa.Date, primary_key=True),
        sa.Column("cap_group", sa.String, primary_key=True),
        sa.Column("earned", sa.Integer, nullable=False),
        sa.Column("cap", sa.Integer, nullable=False),
        sa.CheckConstraint("earned >= 0 AND earned <= cap", name="ck_daily_points_within_cap"),
    )
    # What was earned so far, under today's caps; a day that already passed one (before this
    # revision nothing stopped it) keeps its figure as its cap, so reconciliation can find it.
    caps = ", ".join(f"('{group}', {cap})" for group, cap in
                     [*RULES.daily_cap_points, (ALL_MODES, RULES.daily_cap_total)])
    op.execute(f"""
        INSERT INTO daily_points (user_id, local_day, cap_group, earned, cap)
        SELECT day.user_id, day.local_day, day.cap_group, day.earned,
               greatest(day.earned, coalesce(caps.cap, day.earned))
        FROM (SELECT user_id, local_day, mode AS cap_group, sum(points) AS earned
              FROM green_trip GROUP BY user_id, local_day, mode
              UNION ALL
              SELECT user_id, local_day, '{ALL_MODES}', sum(points)
              FROM green_trip GROUP BY user_id, local_day) AS day
        LEFT JOIN (VALUES {caps}) AS caps (cap_group, cap) USING (cap_group)
        WHERE day.earned > 0
    """)


def downgrade() -> None:
    op.drop_table("daily_points")
    op.drop_index("uq_carbon_report_current", "carbon_report")
    op.drop_index("uq_points_entry_redemption_outcome", "points_entry")
    for table, name, _ in reversed(CHECKS):
        op.drop_constraint(name, table, type_="check")
    op.create_check_constraint("points_never_negative", "points_account",
                               "held >= 0 AND held <= balance")
    op.execute("ALTER INDEX uq_points_entry_redemption_kind RENAME TO ux_points_entry_redemption")
    for table, old, new in reversed(RENAMED_CONSTRAINTS):
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}")
