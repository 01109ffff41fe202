"""A transit operator's feed read from its bytes in one quick pass, or as its models read it.

The feed's models check each record with Python functions that pydantic-core calls one by one
(the times, their order, storable text): six calls a record, and a model built for each, were
most of a 10,000-trip feed's validation. The quick read validates the same fields with the same
constraints, less those functions, into plain dicts (the use case's records as they are); then
one loop asks the same questions. Whatever it is not sure of (a failed check, a time near year 1
or 9999, an unusual distance) it leaves to the models (JsonBody), so a feed it accepts gives the
models' values and a refused feed's 422 is worded by the models, as before.

Before that, a feed of the usual shape (distances as text, times in RFC 3339) is decoded by msgspec
with the same constraints (a fifth of pydantic-core's time), its times in UTC come as
datetime.timezone.utc, which the use case's conversion to UTC then passes through. What msgspec
refuses (a distance as a number, any other form) goes to pydantic-core's quick read as before.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Union

import msgspec
from annotated_types import MaxLen, MinLen
from fastapi import Request
from pydantic import AfterValidator, AwareDatetime, BaseModel, StrictStr, TypeAdapter, ValidationError
from pydantic_core import to_json
from typing_extensions import TypedDict  # pydantic's own dependency; typing's, only from 3.12

from tanhui_shared.web.json_body import JsonBody, is_json
from tanhui_shared.web.models import is_storable

from ..usecases.trips import CardRecord

_FIELDS = ("username", "mode", "distance_km", "started_at", "ended_at", "external_id")


def _unchecked(model: type[BaseModel], name: str) -> Any:
    """The model's field `name` with its constraints, without the Python functions it calls."""
    field = model.model_fields[name]
    kept = [m for m in field.metadata if not isinstance(m, AfterValidator)]
    return Annotated[(field.annotation, *kept)] if kept else field.annotation


# msgspec rounds a time's seventh decimal and beyond where pydantic-core (and so the models) cuts
# them: a feed with seven digits after a dot, or with a digit or a dot (or any of \u0020-\u003f)
# spelled as an escape, is left to pydantic-core. Two scans of a 10,000-trip feed take ~1 ms (one
# pattern of both alternatives, ten).
_SEVEN_DECIMALS = re.compile(rb"\.[0-9]{7}")
_ESCAPED_ASCII = re.compile(rb"\\u00[23]")


def _lengths(metadata: list) -> dict[str, int]:
    """The models' length constraints as msgspec's; any other constraint is refused here: the
    usual-shape read must check everything the models do."""
    lengths = {}
    for m in metadata:
        if isinstance(m, MinLen):
            lengths["min_length"] = m.min_length
        else:
            assert isinstance(m, MaxLen), f"no msgspec form for {m!r}"
            lengths["max_length"] = m.max_length
    return lengths


def _usual(annotation: Any, metadata: list) -> Any:
    """msgspec's type for a field of the models: a distance as text only (read's loop validates
    each text with the field's own validator); a time with its offset (AwareDatetime; its Python
    check is the loop's); a mode as the enum; text with its lengths."""
    if annotation is Decimal:
        return str
    if annotation is AwareDatetime:
        assert all(isinstance(m, AfterValidator) for m in metadata)
        return Annotated[datetime, msgspec.Meta(tz=True)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        assert not metadata
        return annotation
    assert annotation is str, annotation
    return Annotated[str, msgspec.Meta(**_lengths(metadata))]


class QuickFeed:
    """`read(raw)`: a feed's records, or None for the models to read it (and word its 422)."""

    def __init__(self, record: type[BaseModel], batch: type[BaseModel]) -> None:
        assert set(record.model_fields) == set(_FIELDS), "the quick read must check every field"
        fields = {name: _unchecked(record, name) for name in _FIELDS}
        # A distance given as text is checked once per distinct text (a feed repeats its fares)
        # by the field's own validator, fed the same JSON string; a number, by it inline.
        self._distance = TypeAdapter(fields["distance_km"])
        fields["distance_km"] = Union[StrictStr, fields["distance_km"]]
        # CardRecord's keys: the dicts pydantic-core makes are the use case's records
        assert set(CardRecord.__annotations__) == set(_FIELDS)
        trip = TypedDict(f"Quick{record.__name__}", fields)  # type: ignore[misc]
        (name,) = batch.model_fields
        self._batch = TypeAdapter(TypedDict(f"Quick{batch.__name__}", {  # type: ignore[misc]
            name: Annotated[(list[trip], *batch.model_fields[name].metadata)]}))
        self._name = name
        usual = TypedDict(f"Usual{record.__name__}", {  # type: ignore[misc]
            f: _usual(record.model_fields[f].annotation, record.model_fields[f].metadata)
            for f in _FIELDS})
        self._usual = msgspec.json.Decoder(TypedDict(f"Usual{batch.__name__}", {  # type: ignore[misc]
            name: Annotated[list[usual], msgspec.Meta(**_lengths(batch.model_fields[name].metadata))]
        }))

    def _decoded(self, raw: bytes) -> list[CardRecord] | None:
        if not (_SEVEN_DECIMALS.search(raw) or _ESCAPED_ASCII.search(raw)):
            try:
                return self._usual.decode(raw)[self._name]
            except msgspec.MsgspecError:
                pass
        try:
            return self._batch.validate_json(raw)[self._name]
        except ValidationError:
            return None

    def read(self, raw: bytes) -> list[CardRecord] | None:
        trips = self._decoded(raw)
        if trips is None:
            return None
        distances: dict[str, Any] = {}
        for trip in trips:
            started, ended, km = trip["started_at"], trip["ended_at"], trip["distance_km"]
            # _trip_time has nothing to say about these years; _ends_after_it_starts, as it says
            if not (1 < started.year < 9999 and 1 < ended.year < 9999 and started < ended):
                return None
            if km.__class__ is str:
                exact = distances.get(km)
                if exact is None:
                    try:
                        exact = distances[km] = self._distance.validate_json(to_json(km))
                    except ValidationError:
                        return None
                trip["distance_km"] = exact
        # the text fields' storable_text, asked once of all of them together
        if not (is_storable("".join([t["username"] for t in trips]))
                and is_storable("".join([t["external_id"] for t in trips]))):
            return None
        return trips


def feed_records(quick: QuickFeed, body: JsonBody[Any],
                 records_of: Callable[[Any], list[CardRecord]],
                 ) -> Callable[[Request], Awaitable[list[CardRecord]]]:
    """A dependency: the feed's records, read quickly if it can be, else by `body`'s model."""
    async def records(request: Request) -> list[CardRecord]:
        raw = await request.body()
        if raw and is_json(request.headers.get("content-type")):
            read = quick.read(raw)
            if read is not None:
                return read
        return records_of(await body(request))
    return records
