"""Transit operators' client secrets and verifiers' first passwords: made here, shown once.

A client secret is 32 random bytes (256 bits) from `secrets`, so it is stored as its SHA-256
digest: a slow password hash protects guessable secrets, and this one cannot be guessed; a fast
digest keeps every client-credentials request (one each token lifetime per operator) cheap.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32
# Stored as a transit operator's password hash: not an argon2 hash, so no password matches it
# (security.password_matches answers False); operators sign in with client credentials only.
NO_PASSWORD = "!client-credentials-only"


def new_client_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def new_initial_password() -> str:
    """A verifier's first password (about 128 bits), to be replaced through /me/password."""
    return secrets.token_urlsafe(16)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_digest: str | None, secret: str) -> bool:
    """Constant-time comparison of `secret` with a stored digest (False if there is none)."""
    return stored_digest is not None and hmac.compare_digest(stored_digest, digest(secret))
