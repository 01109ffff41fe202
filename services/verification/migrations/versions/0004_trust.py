"""trust: the projection of verifier accreditations, the accreditation each decision was made
under, forest-rights certificates compared by a normalized key, and retired signing keys

The same tables and constraints are declared in store/tables.py (the schema source).

Two checks (every verification decision, and every verifier's timeline step, names its
accreditation) are added NOT VALID and validated only when no earlier row breaks them: decisions
made before verifiers were accredited have none to name, and stay as they were; every new row is
checked either way.

Existing projects get the normalized key of their certificate, computed by the service's own
normalization (domain/certificates.py). Active projects that registered one certificate under
several spellings (possible before this revision) all stay: the earliest keeps the key, each
later one gets the key plus a note naming it, which contains spaces and so can never equal a
key of a new filing. A new filing of that certificate then collides with the earliest.

Revision ID: 0004
"""
import logging

import sqlalchemy as sa
from alembic import op

from tanhui_shared.web.trusted_keys import add_key_retirement, drop_key_retirement
from tanhui_verification.domain.certificates import certificate_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

ACCREDITED_CHECKS = {
    "project_timeline": ("ck_project_timeline_accreditation",
                         "(actor_role = 'verifier') = (accreditation_id IS NOT NULL AND "
                         "accreditation_number IS NOT NULL AND "
                         "accreditation_organisation IS NOT NULL)"),
    "verification": ("ck_verification_accreditation",
                     "accreditation_id IS NOT NULL AND accreditation_number IS NOT NULL"),
}


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    add_key_retirement(op)  # trusted signing keys can be retired (SigningKeyRetired)
    op.create_table(
        "verifier_accreditation",
        sa.Column("accreditation_id", sa.String, primary_key=True),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("username", sa.String, nullable=True),
        sa.Column("organisation", sa.String, nullable=True),
        sa.Column("number", sa.String, nullable=True),
        sa.Column("valid_from", sa.Date, nullable=True),
        sa.Column("valid_to", sa.Date, nullable=True),
        _ts("granted_at"),
        _ts("revoked_at"),
        sa.Column("revocation_reason", sa.Text, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(granted_at IS NULL) = (username IS NULL) AND "
                           "(granted_at IS NULL) = (organisation IS NULL) AND "
                           "(granted_at IS NULL) = (number IS NULL) AND "
                           "(granted_at IS NULL) = (valid_from IS NULL) AND "
                           "(granted_at IS NULL) = (valid_to IS NULL)",
                           name="ck_verifier_accreditation_grant"),
        sa.CheckConstraint("valid_to >= valid_from", name="ck_verifier_accreditation_validity"),
        sa.CheckConstraint("(revoked_at IS NULL) = (revocation_reason IS NULL)",
                           name="ck_verifier_accreditation_revocation"),
        sa.CheckConstraint("granted_at IS NOT NULL OR revoked_at IS NOT NULL",
                           name="ck_verifier_accreditation_recorded"),
    )
    op.create_index("ix_verifier_accreditation_user_id", "verifier_accreditation", ["user_id"])

    for column in ("accreditation_id", "accreditation_number", "accreditation_organisation"):
        op.add_column("project_timeline", sa.Column(column, sa.String, nullable=True))
    for column in ("accreditation_id", "accreditation_number"):
        op.add_column("verification", sa.Column(column, sa.String, nullable=True))
    for table in ACCREDITED_CHECKS:
        op.create_foreign_key(f"{table}_accreditation_id_fkey", table, "verifier_accreditation",
                              ["accreditation_id"], ["accreditation_id"])
    for table, (name, condition) in ACCREDITED_CHECKS.items():
        _add_check_for_new_rows(table, name, condition)

    op.add_column("project", sa.Column("forest_rights_certificate_key", sa.String,
                                       nullable=True))
    _fill_certificate_keys()
    op.alter_column("project", "forest_rights_certificate_key", nullable=False)
    op.drop_index("ux_project_active_certificate", "project")
    op.create_index("ux_project_active_certificate", "project",
                    ["forest_rights_certificate_key"], unique=True,
                    postgresql_where=sa.text("state <> 'rejected'"))
    op.create_check_constraint("ck_project_certificate_key", "project",
                               "forest_rights_certificate_key <> ''")


def _add_check_for_new_rows(table: str, name: str, condition: str) -> None:
    """The check for every new row; validated for the old ones only if they all pass."""
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID")
    broken = op.get_bind().execute(sa.text(
        f"SELECT count(*) FROM {table} WHERE NOT ({condition})")).scalar_one()
    if broken:
        log.warning("%s: %d existing rows predate it; it holds for new rows only", name, broken)
    else:
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def _fill_certificate_keys() -> None:
    bind = op.get_bind()
    projects = bind.execute(sa.text(
        "SELECT id, forest_rights_certificate, state FROM project ORDER BY created_at, id"))
    held: dict[str, str] = {}  # key -> the earliest active project holding it
    keys: dict[str, str] = {}
    for project_id, certificate, state in projects.all():
        key = certificate_key(certificate)
        if not key:
            key = f"(no visible characters) project {project_id}"
        elif state != "rejected":
            if key in held:
                log.warning("project %s holds certificate %r, already held by project %s",
                            project_id, certificate, held[key])
                key = f"{key} (duplicate of project {held[key]}) project {project_id}"
            else:
                held[key] = project_id
        keys[project_id] = key
    for project_id, key in keys.items():
        bind.execute(sa.text("UPDATE project SET forest_rights_certificate_key = :key "
                             "WHERE id = :id"), {"key": key, "id": project_id})


def downgrade() -> None:
    op.drop_constraint("ck_project_certificate_key", "project")
    op.drop_index("ux_project_active_certificate", "project")
    op.create_index("ux_project_active_certificate", "project", ["forest_rights_certificate"],
                    unique=True, postgresql_where=sa.text("state <> 'rejected'"))
    op.drop_column("project", "forest_rights_certificate_key")
    for table, (name, _) in ACCREDITED_CHECKS.items():
        op.drop_constraint(name, table)
        op.drop_constraint(f"{table}_accreditation_id_fkey", table)
    for column in ("accreditation_id", "accreditation_number"):
        op.drop_column("verification", column)
    for column in ("accreditation_id", "accreditation_number", "accreditation_organisation"):
        op.drop_column("project_timeline", column)
    op.drop_index("ix_verifier_accreditation_user_id", "verifier_accreditation")
    op.drop_table("verifier_accreditation")
    drop_key_retirement(op)
