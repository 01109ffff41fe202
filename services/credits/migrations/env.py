from tanhui_shared.alembic_env import run_migrations
from tanhui_credits.store.schema import METADATA

run_migrations(METADATA)
