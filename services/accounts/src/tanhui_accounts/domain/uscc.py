"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, last one a
check character computed mod 31 over the first 17 with fixed weights."""
from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^i mod 31
# [0-9], not \d: in Python \d also matches other scripts' digits (３, ٣), which have no check value
_SHAPE = re.compile(rf"^[{ALPHABET}]{{2}}[0-9]{{6}}[{ALPHABET}]{{10}}\Z")


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """None if `code` is a well-formed USCC, else what is wrong with it."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    if not _SHAPE.match(code):
        return "must be 2 code characters, a 6-digit region code, then 10 characters of 0-9 and A-Y (no I, O, S, V, Z)"
    if code[17] != check_character(code[:17]):
        return "check character does not match (GB 32100-2015)"
    return None
