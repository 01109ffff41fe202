"""users' journeys in verification (issue 14): a developer withdraws a project; verifiers list
their own decisions

The same constraints and indexes are declared in store/tables.py (the schema source); each says
why there. `withdrawn` joins the project states, and a withdrawn project, like a rejected one,
frees its forest-rights certificate for another filing. No existing row changes: nothing was
withdrawn before this migration.

Revision ID: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_STATES = "'draft', 'submitted', 'changes_requested', 'registered', 'rejected'"
NEW_STATES = OLD_STATES + ", 'withdrawn'"


def _certificate_index(released: str) -> None:
    op.drop_index("ux_project_active_certificate", table_name="project")
    op.create_index("ux_project_active_certificate", "project",
                    ["forest_rights_certificate_key"], unique=True,
                    postgresql_where=sa.text(f"state NOT IN ({released})"))


def upgrade() -> None:
    op.drop_constraint("ck_project_state", "project")
    op.create_check_constraint("ck_project_state", "project", f"state IN ({NEW_STATES})")
    _certificate_index("'rejected', 'withdrawn'")
    op.create_index("ix_project_timeline_actor", "project_timeline", ["actor_user_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_project_timeline_actor", table_name="project_timeline")
    # a withdrawn project cannot be expressed before this revision: refuse rather than relabel
    op.execute("DO $$ BEGIN IF EXISTS (SELECT 1 FROM project WHERE state = 'withdrawn') THEN "
               "RAISE EXCEPTION 'withdrawn projects exist: cannot downgrade below 0006'; "
               "END IF; END $$")
    _certificate_index("'rejected'")
    op.drop_constraint("ck_project_state", "project")
    op.create_check_constraint("ck_project_state", "project", f"state IN ({OLD_STATES})")
