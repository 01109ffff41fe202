from tanhui_shared.alembic_env import run_migrations
from tanhui_verification.store.schema import METADATA

run_migrations(METADATA)
