"""Who may register, and what kind of registry holder each role is."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITIZEN = "citizen"
    ENTERPRISE = "enterprise"
    PROJECT_DEVELOPER = "project_developer"
    VERIFIER = "verifier"
    ORGANIZER = "organizer"
    TRANSIT_OPERATOR = "transit_operator"
    REGULATOR = "regulator"
    ADMIN = "admin"


# Regulator and admin accounts are made by the operators' CLI, never by self-registration.
SELF_REGISTRABLE = frozenset(Role) - {Role.REGULATOR, Role.ADMIN}


def subject_kind(role: Role) -> str:
    """A citizen holds credits as a person; every other role acts for an organisation."""
    return "person" if role is Role.CITIZEN else "organisation"


# The credit registry's own accounts answer to these names (transfers "to_username"); no person
# or organisation may register under them.
RESERVED_USERNAMES = frozenset({"city-inclusion-pool", "registry-buffer-pool"})
