"""Whom a token request tries to log in as, for the per-name login limit.

The form is read with Starlette's own parser, the one the accounts service's form dependency
uses, so a body cannot name one user to the gateway and another to the service (a `;` or a
multipart body, say). Names are folded (NFKC, case, whitespace and invisible format
characters) more coarsely than any spelling the service tells apart, so variants of one name
share one bucket: a few distinct names sharing a bucket costs nothing, the reverse would let
guesses be spread.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from urllib.parse import unquote_plus

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException
from starlette.requests import Request

# Form fields that name who logs in: the password grant's user, the client credentials' client.
NAME_FIELDS = ("username", "client_id")
MAX_NAMES = 2  # e.g. a client_id both in the form and in HTTP Basic; more is not a login


class UnreadableLogin(Exception):
    """The body or the Basic credentials cannot be read: the service would refuse them too."""


def fold(name: str) -> str:
    """NFKC (full-width and compatibility forms), case folding, no whitespace and no format
    characters (zero-width space and joiners, BOM, bidi marks)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch) != "Cf")


def bucket(name: str) -> str:
    """The rate-limit identity of a folded name: a digest, so Redis holds no user names and
    any byte a client sends makes a key of the same shape."""
    return "name:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def basic_client_id(authorization: str | None) -> str | None:
    """The client_id of `Authorization: Basic`, form-decoded as RFC 6749 §2.3.1 encodes it."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None  # names no client: the service refuses it without looking at any secret
    client_id, _, _ = decoded.partition(":")
    return unquote_plus(client_id)


async def login_names(raw_headers: list[tuple[bytes, bytes]], body: bytes) -> set[str]:
    """The folded names a token request logs in as (none when it names nobody)."""

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request({"type": "http", "method": "POST", "headers": raw_headers}, receive)
    try:
        form = await request.form()
    except (MultiPartException, ValueError) as exc:
        raise UnreadableLogin(f"the form cannot be read: {exc}") from None
    try:
        values = [v for field in NAME_FIELDS for v in form.getlist(field) if isinstance(v, str)]
    finally:
        await form.close()
    client_id = basic_client_id(Headers(raw=raw_headers).get("authorization"))
    if client_id is not None:
        values.append(client_id)
    names = {fold(v) for v in values} - {""}
    if len(names) > MAX_NAMES:
        raise UnreadableLogin(f"a token request names one user or client, not {len(names)}")
    return names
