"""Who may register, what kind of registry holder each role is, and which names nobody may take."""
from __future__ import annotations

import unicodedata
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


# Regulator and admin accounts are made by the operators' CLI; verifiers (verification bodies)
# and transit operators create value, so an admin grants them with an accreditation or licence
# (usecases/accreditation.py). Everyone else registers themselves.
SELF_REGISTRABLE = frozenset({Role.CITIZEN, Role.ENTERPRISE, Role.ORGANIZER,
                              Role.PROJECT_DEVELOPER})


def subject_kind(role: Role) -> str:
    """A citizen holds credits as a person; every other role acts for an organisation."""
    return "person" if role is Role.CITIZEN else "organisation"


# The credit registry's own accounts answer to these names (transfers "to_username"); no person
# or organisation may register under them.
RESERVED_USERNAMES = frozenset({"city-inclusion-pool", "registry-buffer-pool"})

# Platform rule (issue 12), not a published standard: a name is compared by its skeleton (below),
# so `system-buffer-pool`, `city-inclusion-pool.` or `registry_buffer.pool` cannot pass for one
# of the registry's own accounts in a transfer or on the public registry. Names containing the
# system accounts' distinctive parts are refused to everyone; names that begin like the platform
# or its officials are refused to names chosen by the public (the operators' CLI names regulators
# and admins `regulator-...`, `admin-...`).
SYSTEM_ACCOUNT_PARTS = ("bufferpool", "inclusionpool")
OFFICIAL_PREFIXES = ("registry", "system", "tanhui", "admin", "regulator")
_SEPARATORS = str.maketrans("", "", "._-")


def username_skeleton(username: str) -> str:
    """What a name looks like to a reader: NFKC (full-width and compatibility forms folded),
    format characters (zero-width space, joiners, bidi marks: Unicode category Cf) removed,
    case folded, and the separators `.`, `_`, `-` dropped."""
    text = unicodedata.normalize("NFKC", username)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = unicodedata.normalize("NFKC", text.casefold())
    return text.translate(_SEPARATORS)


def reserved_name_problem(username: str, *, chosen_by_public: bool = True) -> str | None:
    """None if `username` may be taken, else why not."""
    skeleton = username_skeleton(username)
    reserved = {username_skeleton(name) for name in RESERVED_USERNAMES}
    if skeleton in reserved or any(part in skeleton for part in SYSTEM_ACCOUNT_PARTS):
        return "this name looks like one of the registry's own accounts"
    if chosen_by_public and skeleton.startswith(OFFICIAL_PREFIXES):
        return (f"names beginning with {', '.join(OFFICIAL_PREFIXES)} are kept for the platform "
                f"and its officials")
    return None
