"""serial_block's account and listing indexes partial, as every query of them is
(issue 15: CPU per movement)

The account index holds active blocks only (holdings and a debit's spendable blocks; the
lookup read an account's whole history before), the listing index a listing's active blocks
only (every purchase locks them, and each left a superseded part under the listing's id). A
movement closing a block then writes no entry for the closed version into either, and retired
parts none. (The serial index stays whole: a serial's lineage reads superseded blocks too.)

Revision ID: 0014_spread_block_indexes
"""
from alembic import op

revision = "0014_spread_block_indexes"
down_revision = "0013_registry_functions"
branch_labels = None
depends_on = None

INDEXES = {  # name -> (columns, predicate)
    "ix_serial_block_account_id": ("account_id", "status = 'active'"),
    "ix_serial_block_listing_id": ("listing_id", "status = 'active'"),
}


def upgrade() -> None:
    for name, (columns, predicate) in INDEXES.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON serial_block ({columns}) WHERE {predicate}")


def downgrade() -> None:
    for name, (columns, _) in INDEXES.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON serial_block ({columns})")
