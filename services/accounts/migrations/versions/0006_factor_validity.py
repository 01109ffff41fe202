"""factor validity (issue 13; slot reserved for: factor library and report factor validity)

The factor table follows the shared library (tanhui_shared.methodology): each version gets its
category; versions are checked (valid_to not before valid_from, scope 1 or 2, a known category);
live versions of one code never overlap in validity; and the library's scope 1 and 2 versions
missing from the table (purchased heat) are published.

Revision ID: 0006
"""
import json
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from tanhui_accounts.domain.factors import STARTING_FACTORS

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CATEGORIES = "('energy', 'travel', 'accommodation', 'catering', 'materials', 'waste')"


def upgrade() -> None:
    op.add_column("emission_factor", sa.Column("category", sa.String, nullable=True))
    # every version a report can use is scope 1 or 2, which the MEE guide counts as energy
    op.execute("UPDATE emission_factor SET category = 'energy'")
    op.alter_column("emission_factor", "category", nullable=False)
    op.create_check_constraint("ck_emission_factor_validity", "emission_factor",
                               "valid_to IS NULL OR valid_to >= valid_from")
    op.create_check_constraint("ck_emission_factor_scope", "emission_factor", "scope IN (1, 2)")
    op.create_check_constraint("ck_emission_factor_category", "emission_factor",
                               f"category IN {CATEGORIES}")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")  # also made by 0004
    op.execute("ALTER TABLE emission_factor ADD CONSTRAINT ex_emission_factor_one_live_version "
               "EXCLUDE USING gist (code WITH =, daterange(valid_from, valid_to, '[]') WITH &&) "
               "WHERE (superseded_at IS NULL)")
    now = datetime.now(UTC)
    # a code already in the table keeps its versions (an operator may have corrected it)
    insert = sa.text(
        "INSERT INTO emission_factor (code, version, name, category, scope, activity_unit, "
        "value, source, valid_from, valid_to, components, published_at) SELECT "
        "CAST(:code AS varchar), :version, :name, :category, :scope, :activity_unit, :value, :source, "
        "CAST(:valid_from AS date), CAST(:valid_to AS date), :components, :now "
        "WHERE NOT EXISTS (SELECT 1 FROM emission_factor WHERE code = CAST(:code AS varchar))")
    for f in STARTING_FACTORS:  # a fresh database had most of them from 0002
        op.get_bind().execute(insert, {
            "code": f.code, "version": f.version, "name": f.name, "category": f.category,
            "scope": f.scope, "activity_unit": f.activity_unit,
            "value": f.value.quantize(Decimal("1e-12")), "source": f.source,
            "valid_from": f.valid_from, "valid_to": f.valid_to,
            "components": (json.dumps({k: str(v) for k, v in vars(f.components).items()})
                           if f.components else None), "now": now})


def downgrade() -> None:
    # the versions 0006 added (purchased heat) stay: a report may have used them
    op.execute("ALTER TABLE emission_factor DROP CONSTRAINT ex_emission_factor_one_live_version")
    for name in ("ck_emission_factor_category", "ck_emission_factor_scope",
                 "ck_emission_factor_validity"):
        op.drop_constraint(name, "emission_factor", type_="check")
    op.drop_column("emission_factor", "category")
