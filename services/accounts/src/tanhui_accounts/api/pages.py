"""The list endpoints' shared shape (issue 14): `limit` (1..200, default 50) and `offset` in,
`{items, total, limit, offset}` out, so no list grows with the city. A list read deep into a
city (the public disclosures) also takes an opaque `after` cursor and answers `next`: the last
item's sort key, so a page starts at an index position instead of skipping `offset` rows."""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, Field

from tanhui_shared.web.models import is_storable

Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]
Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    total: int
    limit: int
    offset: int


class KeysetPage(Page[Item], Generic[Item]):
    next: str | None = Field(description="pass as `after` for the page that follows; null on "
                             "the last page")


# (period, name, id): a disclosure's sort key, the only cursor there is so far
SortKey = tuple[str, str, str]
_PERIOD = re.compile(r"[0-9]{4}(-(Q[1-4]|0[1-9]|1[0-2]))?")


def encode_cursor(key: SortKey) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(value: str | None) -> SortKey | None:
    # A cursor is only ever one the API handed out, but it arrives from a client: anything else
    # is a 422 naming `after`, never a query built on it.
    if value is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        raise ValueError("not a cursor this API handed out (the `next` of a page)") from None
    if (not isinstance(key, list) or len(key) != 3
            or not all(isinstance(k, str) and k and is_storable(k) for k in key)
            or not _PERIOD.fullmatch(key[0])):
        raise ValueError("not a cursor this API handed out (the `next` of a page)")
    return key[0], key[1], key[2]


After = Annotated[str | None, Query(
    max_length=2000, pattern=r"^[A-Za-z0-9_-]+$",
    description="the `next` of the previous page: the fast way through a long list (an index "
                "range whatever the depth; `offset` skips rows and still works)"),
    AfterValidator(_decode_cursor)]
