"""Canonical JSON and the two hashes the registry publishes: audit chain links and certificates."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64  # the "previous hash" of the first audit entry


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def chain_hash(prev_hash: str, entry: Any) -> str:
    """entry hash = sha256(prev_hash + canonical JSON of the entry)."""
    return link_hash(prev_hash, canonical_json(entry))


def link_hash(prev_hash: str, canonical_entry: str) -> str:
    """chain_hash of an entry already in canonical JSON (as audit entries are stored)."""
    return hashlib.sha256((prev_hash + canonical_entry).encode()).hexdigest()


def certificate_hash(fields: dict[str, Any]) -> str:
    """content_hash of a retirement certificate: sha256 of the canonical JSON of its fields."""
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    seq: int
    prev_hash: str
    body: Any  # the entry as stored (parsed JSON)
    hash: str


def first_broken_link(links: Iterable[ChainLink], head: tuple[int, str] | None = None
                      ) -> tuple[int, str] | None:
    """(seq, reason) of the first entry whose link does not hold, or None if the chain is intact.
    With `head` (the last seq and hash the chain's head row names), the chain must end there."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for link in links:
        if link.seq != expected_seq:
            return link.seq, f"sequence gap: expected entry {expected_seq}"
        if link.prev_hash != expected_prev:
            return link.seq, "prev_hash does not match the previous entry's hash"
        if chain_hash(link.prev_hash, link.body) != link.hash:
            return link.seq, "content does not match its hash"
        expected_prev = link.hash
        expected_seq += 1
    if head is not None and (expected_seq - 1, expected_prev) != head:
        return expected_seq, (f"the chain does not end at its head (entry {head[0]}): "
                              "entries missing or rewritten")
    return None


# What the public certificate JSON adds to the certified fields: everything else is hashed.
UNHASHED_KEYS = ("content_hash", "hash_recipe", "json_url", "pdf_url", "verification_url")
# certificate_hash above, as one line of Python a third party can run on the public JSON `c`
HASH_RECIPE_LINE = ('sha256(json.dumps(c, sort_keys=True, separators=(",", ":"), '
                    'ensure_ascii=False).encode("utf-8")).hexdigest()')
# certificate_hash above, in words: published with every certificate (GET /certificates/{id})
HASH_RECIPE = (
    "content_hash is the SHA-256, in lowercase hex, of the UTF-8 bytes of the certificate's "
    f"JSON without its keys {', '.join(UNHASHED_KEYS)}, serialised with every object's keys "
    "sorted by Unicode code point (at every level, arrays kept in their order), no whitespace "
    "(separators ',' and ':'), characters outside ASCII written as themselves (not \\u "
    "escapes; only '\"', '\\' and control characters are escaped, as RFC 8259 requires), and "
    "every value exactly as the JSON gives it: integers in decimal, decimal tonnes and times "
    "as strings, absent references as null. In Python, with c that JSON less those keys: "
    + HASH_RECIPE_LINE)
