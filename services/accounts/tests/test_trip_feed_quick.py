"""The quick read of a transit operator's feed (api/trip_feed.py) never says yes where the models
say no, and where it says yes it gives the models' very values: every field of a feed is set in
turn to each of many awkward values and both readings compared. Pure: no database, no server."""
from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tanhui_accounts.api.citizens import TRIP_BATCH, OperatorTripIn, TripBatch
from tanhui_accounts.api.trip_feed import QuickFeed
from tanhui_accounts.domain.travel import Mode
from tanhui_accounts.usecases.trips import CardRecord

QUICK = QuickFeed(OperatorTripIn, TripBatch)
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

TEXTS = ["a", "", "x" * 64, "x" * 65, "x" * 128, "x" * 129, "\U0001f68c" * 64, "\U0001f68c" * 65,
         "é" * 128, "é" * 129, "a\x00b", "\ud800", "\udfff", "南充-卡",
         "zoë\u2028", "\U0001f68c", " ", 5, None, True, ["a"]]
MODES = [*(m.value for m in Mode), "METRO", "Metro", "plane", "", 1, None]
DISTANCES = ["12.5", "12.50", "012.5", "0", "0.0", "-1", "0.001", "0.0001", "1000", "1000.000",
             "1000.001", "1e1", "1E+2", "1e-3", "1e-4", "NaN", "Infinity", "-0", " 12.5", "12.5 ",
             "1_0", "abc", "", "1234567.891", "12345678.901", 12.5, 12, 0, 0.1, 1000, 1000.5,
             1e-3, 1e308, -3, True, None, [1]]
TIMES = ["2026-03-01T08:00:00Z", "2026-03-01T08:00:00+00:00", "2026-03-01T16:00:00+08:00",
         "2026-03-01T08:00:00.5Z", "2026-03-01T08:00:00.123456Z", "2026-03-01T08:00:00.1234567Z",
         "2026-03-01T08:00:00.9999995Z", "2026-03-01T08:00:00.123456789+08:00",
         "2026-03-01T08:00:00+0800", "2026-03-01T08:00:00-00:00", "20260301T080000Z",
         "2026-03-01T08:30:00-23:59", "2026-03-01T08:30:00+23:59", "2026-03-01T08:30:00+24:00",
         "2026-03-01 08:30:00Z", "2026-03-01t08:30:00z", "2026-03-01T08:30Z", "2026-03-01T08:30:00",
         "2026-03-01", "2026-02-30T08:30:00Z", "2026-03-01T24:00:00Z", "2026-03-01T23:59:60Z",
         "0001-01-01T00:00:00+14:00", "0001-01-02T00:00:00Z", "0002-01-01T00:00:00+00:00",
         "9998-12-31T23:00:00Z", "9999-12-31T23:59:59-10:00", "9999-12-31T23:59:59Z",
         1772352000, 1772352000.5, "1772352000", -1, None, "now"]
FIELDS = {"username": TEXTS, "mode": MODES, "distance_km": DISTANCES, "started_at": TIMES,
          "ended_at": TIMES, "external_id": TEXTS}


def record(i: int) -> dict:
    start = START + timedelta(minutes=40 * i)
    end = start + timedelta(minutes=25)
    return {"username": f"rider-{i}", "mode": "metro", "distance_km": "12.5",
            "started_at": start.isoformat(), "ended_at": end.isoformat(), "external_id": f"card-{i}"}


def as_models_read(raw: bytes) -> list[CardRecord] | None:
    """What the route got before the quick read: TripBatch from the bytes (the first of JsonBody's
    steps; what it refuses, it refuses whatever comes after)."""
    try:
        batch = TRIP_BATCH._adapter.validate_json(raw)
    except ValidationError:
        return None
    return [CardRecord(username=t.username, mode=t.mode, distance_km=t.distance_km,
                       started_at=t.started_at, ended_at=t.ended_at, external_id=t.external_id)
            for t in batch.trips]


def both(body: object, **dumps) -> tuple[list[CardRecord] | None, list[CardRecord] | None]:
    raw = json.dumps(body, **dumps).encode("utf-8", "surrogatepass")
    return QUICK.read(raw), as_models_read(raw)


def _plain(value: object) -> object:
    # a time as its wall clock and its offset: its time zone object is msgspec's
    # (datetime.timezone) or pydantic-core's (TzInfo), the same offset either way
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), value.utcoffset()
    return value


def same_values(quick: list[CardRecord], models: list[CardRecord]) -> bool:
    # repr tells Decimal('12.5') from Decimal('12.50') and one offset from another
    return (repr([{k: _plain(v) for k, v in r.items()} for r in quick])
            == repr([{k: _plain(v) for k, v in r.items()} for r in models]))


@pytest.mark.parametrize("name", list(FIELDS))
def test_each_awkward_value_is_read_as_the_models_read_it_or_left_to_them(name):
    quick_said_yes = models_said_yes = 0
    for value, ascii_only in itertools.product(FIELDS[name], (True, False)):
        feed = [record(i) for i in range(3)]
        feed[1][name] = value
        try:
            quick, models = both({"trips": feed}, ensure_ascii=ascii_only)
        except UnicodeEncodeError:  # a lone surrogate is only sent escaped
            continue
        models_said_yes += models is not None
        if quick is not None:
            quick_said_yes += 1
            assert models is not None, f"{name}={value!r}: read quickly, refused by the models"
            assert same_values(quick, models), f"{name}={value!r}: {quick[1]} != {models[1]}"
    assert 0 < quick_said_yes <= models_said_yes


def test_an_ordinary_feed_is_read_quickly_with_the_models_values():
    feed = [record(i) for i in range(1_000)]
    feed[3]["distance_km"] = 7  # a number, not text
    feed[4]["started_at"], feed[4]["ended_at"] = "2026-03-01T16:00:00+08:00", "2026-03-01T08:25Z"
    feed[5]["extra"] = {"ignored": True}
    quick, models = both({"trips": feed, "operator_note": "ignored too"}, ensure_ascii=False)
    assert quick is not None and same_values(quick, models)


@pytest.mark.parametrize("body", [{"trips": []}, {"trips": [record(0)] * 10_001}, {"trips": None},
                                  {}, [record(0)], "trips", None])
def test_a_feed_the_models_refuse_as_a_whole_is_left_to_them(body):
    assert both(body) == (None, None)


def test_times_in_order_only():
    feed = [record(0)]
    feed[0]["ended_at"] = feed[0]["started_at"]
    assert both({"trips": feed}) == (None, None)
    feed[0]["ended_at"] = "2026-03-01T14:59:59+07:00"  # a second before it starts, in another zone
    assert both({"trips": feed}) == (None, None)


def test_the_quick_read_knows_every_check_of_the_models():
    """It asks the models' Python-level checks itself: a new one must be taught to it first."""
    record, batch = OperatorTripIn.__pydantic_decorators__, TripBatch.__pydantic_decorators__
    assert {name: d.info.fields for name, d in record.field_validators.items()} == {
        "_ends_after_it_starts": ("ended_at",), "_text_is_storable": ("username", "external_id")}
    assert list(batch.field_validators) == ["_text_is_storable"]  # passes the list on as it is
    assert not (record.model_validators or batch.model_validators or record.root_validators)
    dropped = {name: [m.func.__name__ for m in field.metadata if hasattr(m, "func")]
               for name, field in OperatorTripIn.model_fields.items()}
    assert dropped == {"mode": [], "distance_km": [], "started_at": ["_trip_time"],
                       "ended_at": ["_trip_time"], "external_id": [], "username": []}


@pytest.mark.parametrize("spelled", [
    # a time's seventh decimal spelled as an escape: msgspec would round it, the models cut it
    '"2026-03-01T08:40:00.999999\\u0039Z"', '"2026-03-01T08:40:00\\u002e9999999Z"',
    '"2026-03-01T08:40:00.9999999Z"', '"\\u0032026-03-01T08:40:00Z"'])
def test_a_time_spelled_with_escapes_is_read_as_the_models_read_it(spelled):
    raw = json.dumps({"trips": [record(1)]}).replace(
        '"2026-03-01T08:40:00+00:00"', spelled).encode()
    assert spelled in raw.decode()
    quick, models = QUICK.read(raw), as_models_read(raw)
    assert quick is not None and same_values(quick, models)


@pytest.mark.parametrize("raw", [
    b'\xef\xbb\xbf{"trips": [%s]}', b'{"trips": [%s]} x', b'{"trips": [%s]}\n\t ', b'{"trips": [%s],}',
    b'{"trips": [%s], "trips": []}', b'{"trips": [], "trips": [%s]}', b'{"trips": [%s, ]}',
    b'{"trips": [%s], "note": NaN}', b'{"trips": [%s], "note": [[[[[[[[[[1]]]]]]]]]]}',
    b'{"trips": [%s]}\x00'])
def test_a_feed_spelled_oddly_is_read_as_the_models_read_it_or_left_to_them(raw):
    trip = json.dumps(record(0)).encode()
    quick, models = QUICK.read(raw % trip), as_models_read(raw % trip)
    assert quick is None or (models is not None and same_values(quick, models))


@pytest.mark.parametrize("twice", ['"mode": "bus", "mode": "metro"', '"mode": "metro", "mode": "plane"',
                                   '"username": "a", "username": ""'])
def test_a_field_given_twice_is_read_as_the_models_read_it_or_left_to_them(twice):
    trip = json.dumps(record(0))[:-1] + ", " + twice + "}"
    raw = ('{"trips": [%s]}' % trip).encode()
    quick, models = QUICK.read(raw), as_models_read(raw)
    assert quick is None or (models is not None and same_values(quick, models))
