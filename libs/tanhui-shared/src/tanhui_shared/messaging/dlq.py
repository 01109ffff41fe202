"""Operators' view of a consumer group's dead letters: list, inspect, replay.

`python -m tanhui_<service>.dlq list | show ID | replay ID... | replay --all`

A dead letter is read from the group's DLQ topic (never consumed from it: the topic keeps them
for its retention, 30 days). Replaying applies the record with the same runner the consumer uses,
as if it arrived again on its original topic: the owner checks, the retries and the inbox still
hold, so a replay of an event already applied is a duplicate and changes nothing, and a forged
event stays refused. Replaying twice is safe. ID is the event id or `partition:offset` in the DLQ.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from kafka import TopicPartition
from sqlmodel import Session, select

from ..contracts import qualified
from .consumer import ConsumerRunner, DeadLetter
from .kafka import Kafka, make_consumer
from .outbox import InboxEntry


@dataclass(frozen=True)
class DeadLetterRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def envelope(self) -> dict:
        try:
            parsed = json.loads(self.value)
            return parsed if isinstance(parsed, dict) else {}
        except ValueError:
            return {}

    @property
    def event_id(self) -> str:
        return str(self.envelope.get("id", "?"))

    def as_delivered(self) -> SimpleNamespace:
        """The record as it first arrived: its original topic, without the DLQ's headers."""
        return SimpleNamespace(topic=self.headers.get("dlq-original-topic", ""), key=self.key,
                               value=self.value, partition=int(self.headers.get("dlq-original-partition", -1)),
                               offset=int(self.headers.get("dlq-original-offset", -1)),
                               headers=[(k, v.encode()) for k, v in self.headers.items()
                                        if not k.startswith("dlq-")])


def read_dead_letters(kafka: Kafka, topic: str, timeout_s: float = 30) -> list[DeadLetterRecord]:
    """Every record on `topic` now, oldest first per partition; commits nothing."""
    consumer = make_consumer(kafka, group_id=None, enable_auto_commit=False,
                             client_id="tanhui-dlq-tool")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            raise SystemExit(f"topic {topic} does not exist: check TANHUI_TOPIC_NAMESPACE and the broker")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[DeadLetterRecord] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=int(timeout_s * 1000)).values():
                found += [DeadLetterRecord(r.partition, r.offset, r.key, r.value,
                                           {k: (v or b"").decode("utf-8", "replace") for k, v in r.headers or []})
                          for r in records]
        return sorted(found, key=lambda d: (d.partition, d.offset))
    finally:
        consumer.close()


def applied_event_ids(runner: ConsumerRunner, event_ids: list[str]) -> set[str]:
    with Session(runner.engine) as session:
        rows = session.exec(select(InboxEntry.event_id).where(
            InboxEntry.consumer_group == runner.group, InboxEntry.event_id.in_(event_ids))).all()
    return set(rows)


def replay(runner: ConsumerRunner, letter: DeadLetterRecord) -> str:
    """'applied', 'duplicate', 'ignored', or 'refused: <why>' (it would be dead-lettered again)."""
    try:
        return runner.apply(letter.as_delivered())
    except DeadLetter as exc:
        return f"refused: {exc}"


def _pick(letters: list[DeadLetterRecord], ids: list[str]) -> list[DeadLetterRecord]:
    chosen = [d for d in letters if d.event_id in ids or d.ref in ids]
    missing = set(ids) - {d.event_id for d in chosen} - {d.ref for d in chosen}
    if missing:
        raise SystemExit(f"not on the dead-letter topic: {', '.join(sorted(missing))} "
                         "(run `list` to see what is there)")
    return chosen


def dlq_command(argv: list[str] | None, make_runner: Callable[[], ConsumerRunner], kafka: Kafka,
                out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="dlq", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every dead letter: where, what, why, and whether applied since")
    show = sub.add_parser("show", help="one dead letter's headers and event, whole")
    show.add_argument("id")
    again = sub.add_parser("replay", help="apply dead letters again through the consumer's checks")
    again.add_argument("ids", nargs="*")
    again.add_argument("--all", action="store_true", help="every dead letter not applied yet")
    args = parser.parse_args(argv)
    runner = make_runner()
    letters = read_dead_letters(kafka, qualified(runner.dlq_topic, runner.namespace))
    if args.command == "list":
        applied = applied_event_ids(runner, [d.event_id for d in letters])
        for d in letters:
            error = d.headers.get("dlq-error", "").splitlines()[0:1] or [""]
            state = "applied since" if d.event_id in applied else "not applied"
            print(f"{d.ref}\t{d.event_id}\t{d.envelope.get('type', '(unreadable)')}\t"
                  f"{d.headers.get('dlq-original-topic', '?')}@{d.headers.get('dlq-original-offset', '?')}"
                  f"\t{state}\t{error[0][:160]}", file=out)
        print(f"{len(letters)} dead letter(s) on {qualified(runner.dlq_topic, runner.namespace)}", file=out)
        return 0
    if args.command == "show":
        letter = _pick(letters, [args.id])[0]
        print(json.dumps({"dlq": letter.ref, "headers": letter.headers,
                          "key": (letter.key or b"").decode("utf-8", "replace"),
                          "event": letter.envelope or letter.value.decode("utf-8", "replace")},
                         ensure_ascii=False, indent=2), file=out)
        return 0
    if not args.ids and not args.all:
        parser.error("replay needs event ids (or partition:offset), or --all")
    chosen = letters if args.all else _pick(letters, args.ids)
    if args.all:
        done = applied_event_ids(runner, [d.event_id for d in chosen])
        chosen = [d for d in chosen if d.event_id not in done]
    outcomes = [(d, replay(runner, d)) for d in chosen]
    for d, outcome in outcomes:
        print(f"{d.ref}\t{d.event_id}\t{outcome}", file=out)
    refused = sum(outcome.startswith("refused") for _, outcome in outcomes)
    print(f"replayed {len(outcomes)}: {len(outcomes) - refused} done, {refused} refused", file=out)
    return 1 if refused else 0
