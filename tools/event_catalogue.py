"""docs/events.md, written from the code: every event contract in the shared package, its topic,
producer, key, fields, and which services consume it.

Run `uv run python tools/event_catalogue.py` after changing a contract or a handler table;
tests/test_docs.py fails while docs/events.md differs from what this prints.
"""
from __future__ import annotations

import importlib
import inspect
import sys
import typing
from pathlib import Path

from tanhui_shared.contracts import events as contracts
from tanhui_shared.contracts.topics import CONSUMER_GROUPS, dlq_topic, topic_plan

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "events.md"
SERVICES = ("accounts", "verification", "credits")


def _consumers() -> dict[str, list[str]]:
    """event type -> the services whose consumer applies it (their HANDLERS tables)."""
    applied: dict[str, list[str]] = {}
    for service in SERVICES:
        handlers = importlib.import_module(f"tanhui_{service}.events.handlers").HANDLERS
        for event_type in handlers:
            applied.setdefault(event_type, []).append(service)
    return applied


def _type_name(annotation: object) -> str:
    if isinstance(annotation, str):
        return annotation
    name = getattr(annotation, "__name__", None)
    return name if name and not typing.get_args(annotation) else str(annotation).replace("typing.", "")


def _doc(contract: type) -> str:
    own = contract.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(own).split()) if own else ""


def _fields(contract: type) -> str:
    return ", ".join(f"`{name}` {_type_name(field.annotation)}"
                     for name, field in contract.model_fields.items())


def _key(contract: type) -> str:
    source = inspect.getsource(contract.aggregate_id)
    returned = source.strip().splitlines()[-1].strip().removeprefix("return ").strip()
    return returned.replace("self.", "")


def render() -> str:
    applied = _consumers()
    ordered = sorted(set(contracts.CONTRACTS.values()), key=lambda c: (c.TOPIC, c.TYPE))
    lines = [
        "# Event catalogue",
        "",
        "Written by `tools/event_catalogue.py` from `libs/tanhui-shared/src/tanhui_shared/contracts/`",
        "and each service's `events/handlers.py`; do not edit by hand (tests/test_docs.py checks it).",
        "",
        "Every event travels as a CloudEvents 1.0 structured JSON envelope (`id` is the consumers'",
        "dedup key, `subject` the aggregate id, plus the `correlationid` and `causationid`",
        "extensions, and `traceparent` / `tracestate` of CloudEvents' distributed-tracing",
        "extension: the W3C trace context of the span that recorded the event, which the",
        "consumer's span continues). The Kafka key is the aggregate id below, so one aggregate's",
        "events stay in order. A consumer applies a type only from the topic and `source` that own",
        "it; anything else, an unknown type or a handler that keeps failing goes to its group's",
        "dead-letter topic.",
        "",
        "## Topics",
        "",
        "From `libs/tanhui-shared/src/tanhui_shared/contracts/topics.toml`. Partitions, replication",
        "factor and `min.insync.replicas` are given for the `local` profile (deploy/, compose) and",
        "the `production` one (three brokers or more).",
        "",
        "| topic | written by | read by | partitions | replicas / min in sync | retention |",
        "|---|---|---|---|---|---|",
    ]
    for local, production in zip(topic_plan("local"), topic_plan("production"), strict=True):
        topic = local.name
        shape = (f"{local.partitions} / {production.partitions} | {local.replication_factor}/"
                 f"{local.min_insync_replicas} / {production.replication_factor}/"
                 f"{production.min_insync_replicas} | {local.retention_hours // 24} days")
        if local.role == "dead-letter":
            group = topic.split(".")[1]
            lines.append(f"| `{topic}` | the `{group}` consumer group (dead letters) | operators | {shape} |")
            continue
        producer = topic.split(".")[1]
        readers = sorted({s for c in ordered if c.TOPIC == topic for s in applied.get(c.TYPE, [])})
        lines.append(f"| `{topic}` | {producer} (outbox relay) | {', '.join(readers) or 'nobody yet'} | {shape} |")
    lines += ["", "## Events", ""]
    for contract in ordered:
        readers = applied.get(contract.TYPE, [])
        lines += [
            f"### {contract.__name__} — `{contract.TYPE}`",
            "",
            _doc(contract) or "(no description in the contract)",
            "",
            f"- topic `{contract.TOPIC}`, source `{contract.SOURCE}`, key `{_key(contract)}`",
            f"- applied by: {', '.join(readers) if readers else 'no consumer (published for the record)'}",
            f"- fields: {_fields(contract)}",
            "",
        ]
    assert set(CONSUMER_GROUPS) == set(SERVICES), "a consumer group without a service section"
    lines.append(f"Dead-letter topics: {', '.join(f'`{dlq_topic(g)}`' for g in CONSUMER_GROUPS)}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    CATALOGUE.write_text(render(), encoding="utf-8")
    print(f"wrote {CATALOGUE}", file=sys.stderr)
