"""Accreditations and transit operators' OAuth clients (migration 0004). Same metadata as
tables.py; store/schema.py imports this module so Alembic and the schema test see it."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field

from tanhui_shared.messaging.outbox import utcnow

from .tables import AccountsTable, new_id


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


class Accreditation(AccountsTable, table=True):
    """One grant to a verifier or transit operator. Never deleted: a revocation is recorded on
    it, and a renewal is a new grant, so the public list keeps the whole history."""

    __tablename__ = "accreditation"
    __table_args__ = (
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name="fk_accreditation_user"),
        # only these two roles are granted; the others register or are made by the CLI
        sa.CheckConstraint("role IN ('verifier', 'transit_operator')",
                           name="ck_accreditation_role"),
        # valid_to is the last valid day, so a one-day grant has valid_from = valid_to
        sa.CheckConstraint("valid_to >= valid_from", name="ck_accreditation_dates"),
        # a transit operator is licensed for some travel modes, a verifier for none
        sa.CheckConstraint("(role = 'transit_operator') = (cardinality(modes) > 0)",
                           name="ck_accreditation_modes"),
        sa.CheckConstraint("modes <@ ARRAY['walk', 'bike', 'bus', 'metro', 'ev']::varchar[]",
                           name="ck_accreditation_modes_known"),
        # a revocation says when, by whom and why, or it is not one
        sa.CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL) AND "
                           "(revoked_at IS NULL) = (revocation_reason IS NULL)",
                           name="ck_accreditation_revocation"),
        # at most one unrevoked grant per user on any day: a renewal starts after the grant it
        # renews ends (or that grant is revoked first), so "the grant valid today" is one row
        postgresql.ExcludeConstraint(
            ("user_id", "="), (sa.text("daterange(valid_from, valid_to, '[]')"), "&&"),
            name="ex_accreditation_one_live_grant", using="gist",
            where=sa.text("revoked_at IS NULL")),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str
    role: str
    organisation: str
    number: str  # the accreditation (verifier) or licence (transit operator) number
    valid_from: date
    valid_to: date  # inclusive: the last day the grant is valid
    modes: list[str] = Field(default_factory=list, sa_type=postgresql.ARRAY(sa.String))
    granted_by: str  # the admin's user id, or "cli:<operator>" for the operators' CLI
    granted_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    revoked_at: datetime | None = Field(default=None, sa_type=_ts())
    revoked_by: str | None = None
    revocation_reason: str | None = None


class OAuthClient(AccountsTable, table=True):
    """A transit operator's client credentials (RFC 6749 §4.4): its client_id is the operator's
    username. Secrets are stored as SHA-256 digests only (see client_secrets.py)."""

    __tablename__ = "oauth_client"
    __table_args__ = (
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name="fk_oauth_client_user"),
        # one client per operator
        sa.UniqueConstraint("user_id", name="uq_oauth_client_user"),
        # the replaced secret keeps working until a set moment, or there is none
        sa.CheckConstraint("(previous_secret_hash IS NULL) = (previous_valid_until IS NULL)",
                           name="ck_oauth_client_previous_secret"),
    )

    client_id: str = Field(primary_key=True)
    user_id: str
    secret_hash: str
    previous_secret_hash: str | None = None
    previous_valid_until: datetime | None = Field(default=None, sa_type=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_type=_ts())
    rotated_at: datetime | None = Field(default=None, sa_type=_ts())
