"""Operators' command line: `python -m tanhui_accounts.cli create-user --role regulator NAME`,
`python -m tanhui_accounts.cli retire-signing-key KID`,
`python -m tanhui_accounts.cli expire-points [--every SECONDS]` (the points expiry job).

Admin and regulator accounts exist only through here, never through self-registration.
"""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time

from tanhui_shared.db import make_engine
from tanhui_shared.errors import Conflict, DomainError, Invalid
from tanhui_shared.logs import configure_logging
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import in_unit_of_work

from . import cli_accreditations
from .domain.accreditation import GRANTED_ROLES
from .domain.identity import Role, reserved_name_problem
from .domain.passwords import password_problem
from .security import hash_password, load_signing_key
from .settings import get_settings
from .store.tables import User
from .usecases.expiry import expire_all
from .usecases.identity import register_user, retire_signing_key


def create_user(database_url: str, username: str, password: str, role: Role) -> User:
    """Any role but the granted ones (grant-accreditation makes those); the password policy and
    the system accounts' names apply. Raises Invalid, or Conflict if the username is taken."""
    if role in GRANTED_ROLES:
        raise Invalid(f"{role.value} accounts are made by grant-accreditation", field="role",
                      code="role-not-grantable")
    if problem := reserved_name_problem(username, chosen_by_public=False):
        raise Invalid(f"username {problem}", field="username", code="invalid-username")
    if problem := password_problem(password, username):
        raise Invalid(f"the password {problem}", field="password", code="weak-password")
    engine = make_engine(database_url, pool_size=1)
    try:
        return in_unit_of_work(engine, lambda uow: register_user(uow, username,
                                                                 hash_password(password), role))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tanhui_accounts.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user", help="create an admin, regulator or other user")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input instead of prompting")
    retire = sub.add_parser("retire-signing-key",
                            help="stop publishing and trusting a previous token-signing key")
    retire.add_argument("kid", help="the key's id, as in /.well-known/jwks.json")
    expire = sub.add_parser("expire-points", help="expire citizens' points past their validity "
                            "(once per run; a second run expires nothing twice)")
    expire.add_argument("--every", type=float, metavar="SECONDS",
                        help="keep running, once every SECONDS (the periodic job)")
    cli_accreditations.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command == "expire-points":
        return expire_points_job(get_settings().effective_database_url(), args.every)
    if getattr(args, "accreditation", None):
        return cli_accreditations.run_command(args, get_settings().effective_database_url())
    if args.command == "retire-signing-key":
        settings = get_settings()
        return retire_signing_key_by_kid(settings.effective_database_url(), args.kid,
                                         load_signing_key(settings).kid)
    return create_user_interactively(get_settings().effective_database_url(), args.username,
                                     Role(args.role), args.password_stdin)


def expire_points_job(database_url: str, every: float | None) -> int:
    """Run the expiry once, or every `every` seconds until interrupted (the periodic job, which
    logs JSON lines like every other process; a single run answers the operator in text)."""
    if every is not None:
        configure_logging("accounts-expiry-job")
    report = logging.getLogger("tanhui_accounts.expiry").info if every is not None else print
    engine = make_engine(database_url, pool_size=1)
    try:
        if every is None:  # an operator's single run: a failure is its exit status
            _report_expiry(report, expire_all(engine, utcnow()))
            return 0
        from tanhui_shared.metrics.jobs import ROWS, run_once, serve_job_metrics

        serve_job_metrics()
        while True:
            run = run_once("points-expiry", lambda: expire_all(engine, utcnow()))
            if run is not None:
                ROWS.labels("points-expiry", "points").inc(run.expired_points)
                _report_expiry(report, run)
            time.sleep(every)
    except KeyboardInterrupt:
        return 0
    finally:
        engine.dispose()


def _report_expiry(report, run) -> None:
    report(f"expired {run.expired_points} points of {run.expired_citizens} citizens "
           f"({run.citizens} looked at)")


def retire_signing_key_by_kid(database_url: str, kid: str, current_kid: str) -> int:
    """Retire `kid` (SigningKeyRetired goes out through the outbox); returns the exit code."""
    engine = make_engine(database_url, pool_size=1)
    try:
        key = in_unit_of_work(engine, lambda uow: retire_signing_key(uow, kid, current_kid))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"retired signing key {key.kid} at {key.retired_at.isoformat()}")
    return 0


def create_user_interactively(database_url: str, username: str, role: Role,
                              password_stdin: bool) -> int:
    """Ask for the password (or read it from stdin), create the user, say what happened.
    Returns the process exit code; shared by this CLI and tools/tanhui_ops.py."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()
    try:
        user = create_user(database_url, username, password, role)
    except Invalid as refused:
        print(f"error: {refused.detail}", file=sys.stderr)
        return 2
    except Conflict:
        print(f"error: username {username!r} is taken; choose another", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
