"""Tokens for in-process service tests, signed like accounts signs them (RS256 with a kid)."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..web.trusted_keys import TrustedSigningKey


class TestSigningKey:
    __test__ = False  # not a pytest test class

    def __init__(self, issuer: str = "tanhui-accounts", audience: str = "tanhui") -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"test-{uuid.uuid4().hex[:8]}"
        self.issuer = issuer
        self.audience = audience
        self.jwk = {**json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key())),
                    "kid": self.kid, "alg": "RS256", "use": "sig"}

    def token(self, user_id: str, role: str, username: str | None = None, ttl_s: int = 600,
              **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": user_id, "role": role, "preferred_username": username or user_id,
                   "iss": self.issuer, "aud": self.audience, "iat": now, "nbf": now,
                   "exp": now + ttl_s, **claims}
        return jwt.encode(payload, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def headers(self, user_id: str, role: str, username: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, role, username)}"}

    def trust_in(self, engine: Engine) -> None:
        """What the consumer does on `SigningKeyPublished`, for services tested in-process."""
        with Session(engine) as session, session.begin():
            if session.get(TrustedSigningKey, self.kid) is None:
                session.add(TrustedSigningKey(kid=self.kid, jwk=json.dumps(self.jwk)))
