"""The operators' accreditation commands, for `tanhui_accounts.cli` and `tools/tanhui_ops.py`:
grant-accreditation, revoke-accreditation, rotate-client-secret, list-accreditations.

Each command runs the same use case as the admin API; secrets are printed once, never stored.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import date, timedelta

from sqlmodel import Session

from tanhui_shared.db import make_engine
from tanhui_shared.errors import DomainError
from tanhui_shared.messaging.outbox import utcnow
from tanhui_shared.uow import in_unit_of_work

from .client_secrets import digest, new_client_secret
from .domain.accreditation import GrantStatus, Terms, city_today, grant_status
from .domain.identity import Role
from .domain.travel import Mode
from .settings import AccountsSettings
from .store.accreditations import grant_page
from .usecases.accreditation import (grant_accreditation, new_credentials, revoke_accreditation,
                                     rotate_client_secret)

# (the parsed arguments, the accounts database's URL) -> the exit code
Command = Callable[[argparse.Namespace, str], int]


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def _run(database_url: str, work):  # noqa: ANN001, ANN202
    engine = make_engine(database_url, pool_size=1)
    try:
        return in_unit_of_work(engine, work)
    finally:
        engine.dispose()


def grant_command(args: argparse.Namespace, database_url: str) -> int:
    terms = Terms(Role(args.role), args.organisation, args.number, args.valid_from,
                  args.valid_to, tuple(Mode(m) for m in args.mode or []))
    credentials = new_credentials(terms.role)
    granted = _run(database_url, lambda uow: grant_accreditation(
        uow, args.username, terms, credentials, granted_by=_operator()))
    grant = granted.grant
    print(f"granted {grant.role} {granted.username}: accreditation {grant.id}, "
          f"{grant.organisation} no. {grant.number}, valid {grant.valid_from} to {grant.valid_to}"
          + (f", modes {', '.join(grant.modes)}" if grant.modes else ""))
    if granted.initial_password:
        print(f"initial password (shown once): {granted.initial_password}")
    if granted.client_secret:
        print(f"client_id: {granted.client_id}\n"
              f"client_secret (shown once): {granted.client_secret}")
    return 0


def revoke_command(args: argparse.Namespace, database_url: str) -> int:
    grant = _run(database_url, lambda uow: revoke_accreditation(
        uow, args.accreditation_id, args.reason, _operator(), utcnow()))
    print(f"revoked accreditation {grant.id} at {grant.revoked_at.isoformat()}")
    return 0


def rotate_command(args: argparse.Namespace, database_url: str) -> int:
    secret = new_client_secret()
    rotated = _run(database_url, lambda uow: rotate_client_secret(
        uow, args.accreditation_id, digest(secret), timedelta(seconds=args.overlap_s), utcnow()))
    print(f"client_id: {rotated.client_id}\nclient_secret (shown once): {secret}\n"
          f"the previous secret works until {rotated.previous_valid_until.isoformat()}")
    return 0


def list_command(args: argparse.Namespace, database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    today = city_today()
    try:
        with Session(engine) as session:
            total, rows = grant_page(session, today, role=args.role, status=args.status,
                                     limit=args.limit, offset=0)
    finally:
        engine.dispose()
    for grant, username in rows:
        status = grant_status(grant.valid_from, grant.valid_to, grant.revoked_at is not None, today)
        print("\t".join([grant.id, grant.role, username, grant.organisation, grant.number,
                         str(grant.valid_from), str(grant.valid_to), ",".join(grant.modes),
                         status.value, grant.revoked_at.isoformat() if grant.revoked_at else "",
                         grant.revocation_reason or ""]))
    print(f"{len(rows)} of {total} grants", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add the four commands to `sub`; each parser's `accreditation` default is its Command.
    Returns the parsers, so a wrapper can add its own options (a --database-url)."""
    overlap = AccountsSettings.model_fields["client_secret_overlap_s"].default
    grant = sub.add_parser("grant-accreditation",
                           help="accredit a verification body or license a transit operator")
    grant.add_argument("username", help="a new account is made for a new name; an existing one "
                                         "of the same role gets a renewal")
    grant.add_argument("--role", required=True, choices=["verifier", "transit_operator"])
    grant.add_argument("--organisation", required=True)
    grant.add_argument("--number", required=True, help="accreditation or licence number")
    grant.add_argument("--valid-from", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD")
    grant.add_argument("--valid-to", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD",
                       help="the last valid day")
    grant.add_argument("--mode", action="append", choices=[m.value for m in Mode],
                       help="a licensed travel mode (transit operators; repeat for several)")
    grant.set_defaults(accreditation=grant_command)
    revoke = sub.add_parser("revoke-accreditation", help="revoke a grant (it stays on the list)")
    revoke.add_argument("accreditation_id")
    revoke.add_argument("--reason", required=True)
    revoke.set_defaults(accreditation=revoke_command)
    rotate = sub.add_parser("rotate-client-secret",
                            help="a new client secret for the transit operator holding a grant")
    rotate.add_argument("accreditation_id")
    rotate.add_argument("--overlap-s", type=int, default=overlap,
                        help=f"how long the replaced secret keeps working (default {overlap})")
    rotate.set_defaults(accreditation=rotate_command)
    listing = sub.add_parser("list-accreditations", help="grants and revocations, newest first")
    listing.add_argument("--role", choices=["verifier", "transit_operator"])
    listing.add_argument("--status", choices=[s.value for s in GrantStatus])
    listing.add_argument("--limit", type=int, default=1000)
    listing.set_defaults(accreditation=list_command)
    return [grant, revoke, rotate, listing]


def run_command(args: argparse.Namespace, database_url: str) -> int:
    """Run the parsed accreditation command; a refusal is printed, exit code 1."""
    try:
        return args.accreditation(args, database_url)
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
