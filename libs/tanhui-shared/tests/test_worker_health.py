"""The worker metrics' pure parts: the dead-letter reason classes, as the consumer's own
decoding raises them, and the liveness and readiness a Health reports. No server needed."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine

from tanhui_shared.contracts import ACCOUNTS_TOPIC, CloudEvent, UserRegistered
from tanhui_shared.messaging.consumer import ConsumerRunner, DeadLetter
from tanhui_shared.metrics.consumer import dead_letter_reason
from tanhui_shared.metrics.server import Health

EVENT = UserRegistered(user_id="u1", username="lihua", role="citizen", subject_kind="person")


def reason(topic: str, value: bytes) -> str:
    runner = ConsumerRunner(group="credits", topics=[ACCOUNTS_TOPIC], handlers={},
                            engine=create_engine("postgresql+psycopg://never@127.0.0.1:1/none"),
                            dlq_topic="tanhui.credits.dlq")
    with pytest.raises(DeadLetter) as refused:
        runner._decode(SimpleNamespace(topic=topic, value=value))
    return dead_letter_reason(refused.value)


def envelope(**changes) -> bytes:
    fields = {"type": EVENT.TYPE, "source": EVENT.SOURCE, "data": EVENT.model_dump(mode="json"),
              **changes}
    return CloudEvent(**fields).to_json()


def test_each_refusal_of_the_decoder_has_its_reason_class():
    assert reason(ACCOUNTS_TOPIC, b"not json") == "malformed"
    assert reason(ACCOUNTS_TOPIC, envelope(type="cn.tanhui.nobody.v9")) == "unknown_type"
    assert reason("tanhui.credits.v1", envelope()) == "foreign"
    assert reason(ACCOUNTS_TOPIC, envelope(source="/services/credits")) == "foreign"
    assert reason(ACCOUNTS_TOPIC, envelope(data={"user_id": "u1"})) == "invalid_data"


def test_a_handler_that_keeps_failing_is_handler_failed():
    try:
        raise DeadLetter("ValueError: poison") from ValueError("poison")
    except DeadLetter as exc:
        assert dead_letter_reason(exc) == "handler_failed"


def test_live_while_the_loop_beats_ready_once_both_dependencies_answered():
    health = Health("credits", "consumer", stall_s=0.3)
    assert health.liveness()[0] and not health.readiness()[0]  # starting: not seen yet
    health.beat()
    health.saw("database", True)
    assert not health.readiness()[0]
    health.saw("kafka", True)
    assert health.readiness()[0]
    health.saw("kafka", False, "KafkaTimeoutError")
    ready, body = health.readiness()
    assert not ready and body["kafka"] == "failed: KafkaTimeoutError" and health.liveness()[0]
    health.saw("kafka", True)
    time.sleep(0.4)  # no beat for longer than stall_s
    assert not health.liveness()[0] and not health.readiness()[0]
