"""Operators' command line: `python -m tanhui_accounts.cli create-user --role regulator NAME`.

Admin and regulator accounts exist only through here, never through self-registration.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from tanhui_shared.db import make_engine
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work

from .domain.identity import Role
from .security import hash_password
from .settings import get_settings
from .store.tables import User
from .usecases.identity import register_user


def create_user(database_url: str, username: str, password: str, role: Role) -> User:
    """Any role, the operator-only ones included; raises Conflict if the username is taken."""
    engine = make_engine(database_url, pool_size=1)
    try:
        return in_unit_of_work(engine, lambda uow: register_user(uow, username,
                                                                 hash_password(password), role))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tanhui_accounts.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user", help="create a user of any role (admin, regulator...)")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input instead of prompting")
    args = parser.parse_args(argv)
    return create_user_interactively(get_settings().effective_database_url(), args.username,
                                     Role(args.role), args.password_stdin)


def create_user_interactively(database_url: str, username: str, role: Role,
                              password_stdin: bool) -> int:
    """Ask for the password (or read it from stdin), create the user, say what happened.
    Returns the process exit code; shared by this CLI and tools/tanhui_ops.py."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()
    if len(password) < 8:
        print("error: the password must be at least 8 characters", file=sys.stderr)
        return 2
    try:
        user = create_user(database_url, username, password, role)
    except Conflict:
        print(f"error: username {username!r} is taken; choose another", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
