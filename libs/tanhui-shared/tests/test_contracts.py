"""Pure tests of the envelope, the contracts table and the request-id rule (no I/O)."""
from __future__ import annotations

import json

import pytest

from tanhui_shared.context import accept_request_id
from tanhui_shared.contracts import CONTRACTS, CloudEvent, UserRegistered, parse_event, qualified
from tanhui_shared.contracts.envelope import MalformedEvent
from tanhui_shared.web.problems import _field_name


def test_an_envelope_round_trips_as_cloudevents_1_0_json():
    event = CloudEvent(type=UserRegistered.TYPE, source="/services/accounts", subject="u1",
                       data={"user_id": "u1"}, correlationid="req-12345678")
    wire = json.loads(event.to_json())
    assert wire["specversion"] == "1.0"
    assert wire["datacontenttype"] == "application/json"
    assert {"id", "type", "source", "time", "subject", "data", "correlationid"} <= wire.keys()
    assert "causationid" not in wire  # absent attributes are omitted, not null
    assert parse_event(event.to_json()) == event


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"specversion": "0.3", "type": "x", '
                                 b'"source": "/s", "data": {}}', b'{"type": "x"}'])
def test_anything_but_a_cloudevents_1_0_envelope_is_malformed(raw):
    with pytest.raises(MalformedEvent):
        parse_event(raw)


def test_every_contract_type_is_versioned_and_unique():
    for event_type, contract in CONTRACTS.items():
        assert event_type == contract.TYPE
        assert event_type.startswith("cn.tanhui.") and event_type.rsplit(".", 1)[1].startswith("v")


def test_a_contract_refuses_unknown_fields():
    with pytest.raises(ValueError):
        UserRegistered.model_validate({"user_id": "u", "username": "x", "role": "citizen",
                                       "subject_kind": "person", "smuggled": 1})


def test_topics_are_namespaced_only_when_asked():
    assert qualified("tanhui.credits.v1") == "tanhui.credits.v1"
    assert qualified("tanhui.credits.v1", "t1") == "t1.tanhui.credits.v1"


@pytest.mark.parametrize("sent, kept", [("abcd-1234-efgh", True), ("short", False),
                                        ("has space in it", False), ("x" * 129, False),
                                        ("evil\r\ninjected: 1", False), (None, False)])
def test_a_request_id_is_kept_only_when_well_formed(sent, kept):
    assert (accept_request_id(sent) == sent) is kept


def test_validation_errors_name_the_field_as_a_client_writes_it():
    assert _field_name(("body", "activities", 0, "quantity")) == "activities[0].quantity"
    assert _field_name(("query", "page")) == "page"
