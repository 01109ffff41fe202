"""A transit operator's feed read from its bytes in one quick pass, or as its models read it.

The feed's models check each record with Python functions that pydantic-core calls one by one
(the times, their order, storable text): six calls a record, and a model built for each, were
most of a 10,000-trip feed's validation. The quick read validates the same fields with the same
constraints, less those functions, into plain dicts (the use case's records as they are); then
one loop asks the same questions. Whatever it is not sure of (a failed check, a time near year 1
or 9999, an unusual distance) it leaves to the models (JsonBody), so a feed it accepts gives the
models' values and a refused feed's 422 is worded by the models, as before.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Union

from fastapi import Request
from pydantic import AfterValidator, BaseModel, StrictStr, TypeAdapter, ValidationError
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

    def read(self, raw: bytes) -> list[CardRecord] | None:
        try:
            trips = self._batch.validate_json(raw)[self._name]
        except ValidationError:
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
