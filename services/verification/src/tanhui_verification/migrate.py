from pathlib import Path

from tanhui_shared.service import migrate_main

from .settings import get_settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

if __name__ == "__main__":
    migrate_main(get_settings(), MIGRATIONS)
