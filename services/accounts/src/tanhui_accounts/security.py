"""Password hashing (argon2id) and the RS256 token-signing key."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .settings import AccountsSettings

# Argon2id at OWASP's Password Storage Cheat Sheet minimum: 19 MiB, 2 passes, 1 lane. argon2-cffi's
# default (RFC 9106's second recommendation) takes 64 MiB a hash, which alone put the API past its
# 150 MB budget (issue 15) at one sign-in at a time. Hashes made with other parameters still verify:
# each hash carries its own.
PRODUCTION_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# argon2's minimum cost, for test platforms only (AccountsSettings.password_hash_cost).
_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_hasher = PRODUCTION_HASHER
# A hash holds its memory while it runs, and sign-ins run on the server's thread pool (40 threads):
# two at once at most (38 MiB) bounds that memory; on the platform's 2-core machines more would
# not finish sooner.
_hashing = threading.BoundedSemaphore(min(2, os.cpu_count() or 1))


def use_password_hash_cost(settings: AccountsSettings) -> PasswordHasher:
    """The hasher new passwords get from now on in this process (set as the app starts); hashes
    carry their parameters, so those made at another cost still verify."""
    global _hasher
    _hasher = _TEST_HASHER if settings.password_hash_cost == "test" else PRODUCTION_HASHER
    return _hasher


@lru_cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verifying against this when the user does not exist keeps the two answers equally slow.
    return hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        with _hashing:
            matches = _hasher.verify(password_hash or _dummy_hash(_hasher), password)
        return matches and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _b64url(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the token-signing key must be an RSA private key")
        return cls(key)

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint: the same key always has the same id, on every instance."""
        numbers = self.private_key.public_key().public_numbers()
        canonical = json.dumps({"e": _b64url(numbers.e), "kty": "RSA", "n": _b64url(numbers.n)},
                               separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def issue(self, claims: dict[str, Any], ttl_s: int, issuer: str, audience: str) -> str:
        now = int(time.time())
        payload = {**claims, "iss": issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + ttl_s}
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers={"kid": self.kid})


def load_previous_keys(settings: AccountsSettings) -> list[SigningKey]:
    return [SigningKey.from_pem(path.read_bytes()) for path in settings.jwt_previous_key_files]


def load_signing_key(settings: AccountsSettings) -> SigningKey:
    if settings.jwt_private_key_pem:
        return SigningKey.from_pem(settings.jwt_private_key_pem.encode())
    path = settings.jwt_private_key_file or settings.var_dir / "accounts-jwt-signing-key.pem"
    if not path.exists():
        if settings.env != "development":
            raise RuntimeError(f"token-signing key file {path} does not exist")
        write_new_signing_key(path)
    return SigningKey.from_pem(path.read_bytes())


def write_new_signing_key(path: Path) -> None:
    """Create an RSA-2048 signing key at `path` unless one is already there."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # atomic create-if-absent: two starting processes keep one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
