"""The password policy: long enough, not common, not the username. Pure: no I/O, no hashing.

Length is counted in Unicode code points, as NIST SP 800-63B-4 (August 2025) §3.1.1.2 asks. That
revision requires at least 15 characters for a password used alone and at least 8 when it is one
factor of several; tanhui's minimum of 10 is the platform's choice from issue 12 (tokens are short
lived and logins are rate limited), not a published figure. No composition rules (the same
section forbids them): the blocklist below refuses what attackers try first instead.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

MIN_LENGTH = 10  # platform rule (issue 12); NIST SP 800-63B-4 §3.1.1.2: 15 single-factor, 8 MFA
# NIST SP 800-63B-4 §3.1.1.2 asks to permit at least 64; 128 bounds the argon2 and blocklist work
# an anonymous request can cause (platform assumption).
MAX_LENGTH = 128


def _breached_passwords() -> frozenset[str]:
    # Importing zxcvbn builds ranked dictionaries of all six of its lists, ~11 MB held for the
    # process's life; running its data file alone and keeping this one list holds ~5 MB.
    package = importlib.util.find_spec("zxcvbn")  # finds it without running its __init__
    assert package is not None and package.origin is not None
    spec = importlib.util.spec_from_file_location(
        "_zxcvbn_frequency_lists", Path(package.origin).with_name("frequency_lists.py"))
    assert spec is not None and spec.loader is not None
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    return frozenset(data.FREQUENCY_LISTS["passwords"])


# zxcvbn 4.5.0's "passwords" frequency list: the 30,000 most frequent passwords of Mark Burnett's
# corpus of 10 million passwords leaked in breaches (credited in Dropbox's zxcvbn README), all
# lower case. A password whose lower-cased form is one of them is refused, whatever its case.
COMMON_PASSWORDS = _breached_passwords()


def password_problem(password: str, username: str | None = None) -> str | None:
    """None if `password` is acceptable for `username`, else the reason, to show the user."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    folded = password.casefold()
    if username:
        name = username.casefold()
        if folded == name:
            return "must not be the username"
        if re.fullmatch(re.escape(name) + r"[0-9]+", folded):
            return "must not be the username with digits added"
    if password.lower() in COMMON_PASSWORDS:
        return ("is one of the most common passwords (found in breached-password lists); "
                "choose another")
    return None
