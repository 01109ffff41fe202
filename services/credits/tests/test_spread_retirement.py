"""The one-statement retirement (store/spread_retirement.py) writes what the general path (the
registry's block moves) writes: the same blocks, retirement, certificate (canonical, its hash
recomputable), audit entries and outbox event, up to fresh ids and times. Its refusals are
409s with nothing written, debits of one account queue at the account's lock, and its audit
entries are chained like any other."""
from __future__ import annotations

import functools
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tanhui_credits.domain.hashing import canonical_json, certificate_hash
from tanhui_credits.domain.serials import InsufficientCredits
from tanhui_credits.store.audit import CHAIN_DDL, chain_pending, verify_chain
from tanhui_credits.usecases.common import NoHoldingAccount
from tanhui_credits.usecases.retirements import retire_by_block_moves, retire_credits
from tanhui_shared.errors import Conflict
from tanhui_shared.uow import in_unit_of_work

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WHEN = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
# a name a JSON writer must escape, and characters it must not
BENEFICIARY = '南充 "Jialing" cement\\2026 100% \u2028'
PURPOSE = "carbon neutrality 2025\n(scope 1 & 2)\t✓"


class _RolledBack(Exception):
    pass


def _rows(conn, query: str, **params) -> list[dict]:  # noqa: ANN001, ANN003
    return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]


def _active(engine, owner_id: str) -> list[int]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT b.id FROM serial_block b JOIN holding_account a ON a.id = b.account_id "
            "WHERE a.owner_user_id = :o AND b.status = 'active' ORDER BY b.id"),
            {"o": owner_id}).scalars())


def _max_block(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT max(id) FROM serial_block")).scalar_one()


def _written(conn, retirement_id: str, before: int, parents: list[int]) -> dict[str, Any]:  # noqa: ANN001
    """Every row a retirement wrote, as plain values, read on `conn`."""
    new = _rows(conn, "SELECT * FROM serial_block WHERE id > :before", before=before)
    closed = _rows(conn, "SELECT * FROM serial_block WHERE id = ANY(:ids) ORDER BY id",
                   ids=parents)
    entries = {e for b in new + closed for e in (b["created_by"], b["closed_by"]) if e}
    entries -= {b["created_by"] for b in closed}  # the entries that made the parents
    audit = _rows(conn, "SELECT kind, body FROM audit_pending WHERE entry_id = ANY(:e) "
                  "UNION ALL SELECT kind, body FROM audit_entry WHERE entry_id = ANY(:e)",
                  e=list(entries))
    for entry in audit:
        assert entry["body"] == canonical_json(json.loads(entry["body"]))
    certificate = _rows(conn, "SELECT * FROM certificate WHERE retirement_id = :r",
                        r=retirement_id)[0]
    fields = json.loads(certificate["fields"])
    assert certificate["fields"] == canonical_json(fields)
    assert certificate["content_hash"] == certificate_hash(fields)
    envelope = json.loads(_rows(conn, "SELECT envelope FROM outbox WHERE key = :r",
                                r=retirement_id)[0]["envelope"])
    named = sorted(new, key=lambda b: (b["vintage"], b["first"], b["last"], b["status"]))
    found = {
        "retirement": _rows(conn, "SELECT * FROM retirement WHERE id = :r", r=retirement_id),
        # its hash checked above: over fresh ids and times, it differs by path
        "certificate": {**certificate, "fields": fields, "content_hash": None},
        "new_blocks": named, "closed_blocks": closed,
        "audit": sorted(({"kind": a["kind"], "body": json.loads(a["body"])} for a in audit),
                        key=lambda a: a["kind"] != "split"),
        "event": {"type": envelope["type"], "subject": envelope["subject"],
                  "data": envelope["data"]},
    }
    # new blocks named by what they are (each path draws their ids in its own order)
    return _normalised(found, {b["id"]: f"new-block-{n}" for n, b in enumerate(named)})


def _normalised(value: Any, blocks: dict[int, str]) -> Any:  # noqa: ANN401
    """Fresh ids by order of first appearance, new block ids by rank, times as T."""
    def walk(item: Any, key: str = "") -> Any:  # noqa: ANN401
        if isinstance(item, dict):
            return {k: walk(v, k) for k, v in sorted(item.items())}
        if isinstance(item, list):
            return [walk(v, key) for v in item]
        if isinstance(item, int) and key in ("id", "block_id", "parent_block_id"):
            return blocks.get(item, item)
        return item

    text = json.dumps(walk(value), sort_keys=True, default=str, ensure_ascii=False)
    text = WHEN.sub("T", text)
    names: dict[str, str] = {}
    return json.loads(UUID.sub(lambda m: names.setdefault(m.group(), f"id-{len(names)}"), text))


def _both_paths(world, holder, quantity: int, **filters) -> tuple[dict, dict]:  # noqa: ANN001, ANN003
    """(what the general path writes, rolled back; what the one statement wrote)."""
    parents = _active(world.engine, holder.id)
    general: dict[str, Any] = {}

    def by_block_moves(uow):  # noqa: ANN001, ANN202
        before = _max_block(world.engine)
        certificate = retire_by_block_moves(uow, holder.id, quantity, beneficiary=BENEFICIARY,
                                            purpose=PURPOSE, **filters)
        uow.finish()  # everything written, then read back and rolled back
        general.update(_written(uow.session.connection(), certificate.retirement_id, before,
                                parents))
        raise _RolledBack

    with pytest.raises(_RolledBack):
        in_unit_of_work(world.engine, by_block_moves)
    before = _max_block(world.engine)
    certificate = in_unit_of_work(world.engine, lambda uow: retire_credits(
        uow, holder.id, quantity, beneficiary=BENEFICIARY, purpose=PURPOSE, **filters))
    with world.engine.connect() as conn:
        fast = _written(conn, certificate.retirement_id, before, parents)
        stored = _rows(conn, "SELECT fields, content_hash FROM certificate WHERE id = :c",
                       c=certificate.id)[0]
    # what the use case answers is what it wrote
    assert (certificate.fields, certificate.content_hash) == (stored["fields"],
                                                              stored["content_hash"])
    return general, fast


def test_a_split_retirement_writes_what_the_block_moves_write(world) -> None:
    holder = world.user("enterprise")
    world.issue(holder, 3, vintage=2024)  # taken whole
    world.issue(holder, 10, vintage=2025)  # split: 2 of it taken
    world.issue(holder, 4, vintage=2026)  # untouched
    general, fast = _both_paths(world, holder, 5)
    assert fast == general
    assert [len(fast["new_blocks"]), [a["kind"] for a in fast["audit"]]] == [
        2, ["split", "retire"]]
    assert fast["event"]["data"]["serial_ranges"] == fast["certificate"]["fields"]["serials"]
    assert world.holdings(holder)["total"] == 12


@pytest.mark.parametrize(("issued", "retired", "new_blocks", "kinds"),
                         [(10, 1, 2, ["split", "retire"]), (3, 3, 0, ["retire"])])
def test_one_block_retired_from_writes_what_the_block_moves_write(
        world, issued: int, retired: int, new_blocks: int, kinds: list[str]) -> None:
    """The common case (a holder's credit from one block, split or whole), which the function
    writes without the statements several blocks need."""
    holder = world.user("enterprise")
    world.issue(holder, issued)
    general, fast = _both_paths(world, holder, retired)
    assert fast == general
    assert [len(fast["new_blocks"]), [a["kind"] for a in fast["audit"]]] == [new_blocks, kinds]
    assert len(fast["certificate"]["fields"]["serials"]) == 1
    assert world.holdings(holder)["total"] == issued - retired


def test_whole_blocks_of_a_named_project_and_vintage_write_what_the_block_moves_write(world):
    holder = world.user("enterprise")
    kept = world.issue(holder, 6, vintage=2024)
    world.issue(holder, 2, vintage=2025)  # another project: not taken
    world.issue(holder, 3, vintage=2024, project_number=kept.project_number)
    general, fast = _both_paths(world, holder, 9, project_id=kept.project_id, vintage=2024)
    assert fast == general
    assert [len(fast["new_blocks"]), [a["kind"] for a in fast["audit"]]] == [0, ["retire"]]
    assert world.holdings(holder)["total"] == 2


def test_too_few_credits_is_a_409_with_nothing_written(world) -> None:
    holder = world.user("enterprise")
    world.issue(holder, 4)
    blocks = _active(world.engine, holder.id)
    with pytest.raises(InsufficientCredits) as short:
        in_unit_of_work(world.engine, lambda uow: retire_credits(
            uow, holder.id, 5, beneficiary="x", purpose="y"))
    assert (short.value.wanted, short.value.available) == (5, 4)
    assert _active(world.engine, holder.id) == blocks
    reply = world.http.post("/api/v1/retirements", headers=holder.headers,
                            json={"quantity": 5, "beneficiary": "x", "purpose": "y"})
    assert reply.status_code == 409 and reply.json()["available"] == 4, reply.text


def test_no_holding_account_is_refused(world) -> None:
    with pytest.raises(NoHoldingAccount):
        in_unit_of_work(world.engine, lambda uow: retire_credits(
            uow, "nobody-here", 1, beneficiary="x", purpose="y"))


def test_concurrent_retirements_from_one_account_queue_and_all_succeed(world) -> None:
    """Each waits at the account's lock, then reads the blocks the one before it left: none is
    refused, none retires a serial twice."""
    holder = world.user("enterprise")
    world.issue(holder, 40)
    with ThreadPoolExecutor(8) as pool:
        certificates = list(pool.map(lambda _: in_unit_of_work(world.engine, lambda uow:
                                     retire_credits(uow, holder.id, 1, beneficiary="x",
                                                    purpose="y")), range(24)))
    serials = [json.loads(c.fields)["serials"][0] for c in certificates]
    assert len(set(serials)) == 24
    assert world.holdings(holder)["total"] == 16


def test_a_block_closed_by_a_writer_that_forgot_the_account_lock_is_a_409(world) -> None:
    """A block closed meanwhile by someone not holding the account's lock: the retirement
    waits for that block, then finds nothing spendable, and nothing is written."""
    holder = world.user("enterprise")
    world.issue(holder, 5)
    [block] = _active(world.engine, holder.id)
    closing, done = threading.Event(), threading.Event()

    def rogue() -> None:
        with world.engine.begin() as conn:
            conn.execute(sa.text("UPDATE serial_block SET status = 'superseded', "
                                 "closed_by = 'rogue' WHERE id = :b"), {"b": block})
            closing.set()
            assert done.wait(10)

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(rogue)
        assert closing.wait(10)
        retiring = pool.submit(in_unit_of_work, world.engine, lambda uow: retire_credits(
            uow, holder.id, 1, beneficiary="x", purpose="y"))
        with pytest.raises(TimeoutError):
            retiring.result(timeout=1)  # waits for the block's lock
        done.set()
        held.result(10)
        with pytest.raises(Conflict):
            retiring.result(10)
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM serial_block WHERE parent_block_id "
                                    "= :b"), {"b": block}).scalar_one() == 0


def test_a_retirement_sent_twice_with_one_idempotency_key_retires_once(world) -> None:
    """With an Idempotency-Key the answer is stored in the retirement's own transaction (so
    the statement does not carry the COMMIT): the same request again is a replay."""
    holder = world.user("enterprise")
    world.issue(holder, 10)
    headers = {**holder.headers, "Idempotency-Key": f"retire-{holder.id}"}
    body = {"quantity": 2, "beneficiary": BENEFICIARY, "purpose": PURPOSE}
    first = world.http.post("/api/v1/retirements", headers=headers, json=body)
    again = world.http.post("/api/v1/retirements", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert first.json()["beneficiary"] == BENEFICIARY
    assert world.holdings(holder)["total"] == 8
    with world.engine.connect() as conn:
        account = conn.execute(sa.text("SELECT id FROM holding_account WHERE owner_user_id = "
                                       ":o"), {"o": holder.id}).scalar_one()
        assert conn.execute(sa.text("SELECT count(*) FROM retirement WHERE account_id = :a"),
                            {"a": account}).scalar_one() == 1


def _chained_kinds(session, retirement_id: str) -> list[str]:  # noqa: ANN001
    return session.execute(sa.text(  # the entries that made and closed its block
        "SELECT kind FROM audit_entry WHERE entry_id IN (SELECT unnest(ARRAY[created_by, "
        "closed_by]) FROM serial_block WHERE retirement_id = :r) ORDER BY seq"),
        {"r": retirement_id}).scalars().all()


def test_its_audit_entries_are_chained_when_it_returns_and_the_chain_verifies(world) -> None:
    """The sequencer's pass rides in the retirement's round trip, after its commit."""
    holder = world.user("enterprise")
    world.issue(holder, 10)
    chain_pending(world.engine)  # what earlier tests left
    certificate = in_unit_of_work(world.engine, lambda uow: retire_credits(
        uow, holder.id, 3, beneficiary="x", purpose="y"))
    with Session(world.engine) as session:
        report = verify_chain(session)
        assert _chained_kinds(session, certificate.retirement_id) == ["split", "retire"]
    assert report["intact"] and report["pending"] == 0, report


def test_a_retirement_committed_while_a_pass_runs_is_chained_by_that_passs_runner(fresh_world):
    """One pass at a time per process (store/audit.Passes): a retirement that commits while
    another thread's pass runs sends none of its own and asks that one for one more (which
    may have looked before its commit); both are chained when the runner returns."""
    world = fresh_world
    first, second = world.user("enterprise"), world.user("enterprise")
    world.issue(first, 10)
    world.issue(second, 10)
    chain_pending(world.engine)
    retire = functools.partial(retire_credits, beneficiary="x", purpose="y")
    with world.engine.connect() as holder, ThreadPoolExecutor(1) as pool:
        # the chain's head held: the first retirement's pass (in its round trip) waits there
        holder.execute(sa.text("SELECT 1 FROM audit_head FOR UPDATE"))
        running = pool.submit(in_unit_of_work, world.engine, lambda uow: retire(uow, first.id, 1))
        # (autocommit: a transaction sees one snapshot of pg_stat_activity)
        with world.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for _ in range(500):
                if conn.execute(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'")).scalar_one():
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the first retirement's pass never reached the head")
        later = in_unit_of_work(world.engine, lambda uow: retire(uow, second.id, 1))
        assert not running.done()  # it answered without waiting for the running pass
        with Session(world.engine) as session:
            assert _chained_kinds(session, later.retirement_id) == []
        holder.rollback()
        earlier = running.result(timeout=30)
    with Session(world.engine) as session:
        report = verify_chain(session)
        for certificate in (earlier, later):
            assert _chained_kinds(session, certificate.retirement_id) == ["split", "retire"]
    assert report["intact"] and report["pending"] == 0, report


def test_a_pass_that_fails_after_the_commit_leaves_the_retirement_standing(fresh_world):
    """The pass in the round trip fails after the retirement committed: the retirement is
    answered as written, its entries wait in audit_pending, and a later pass chains them."""
    world = fresh_world
    holder = world.user("enterprise")
    world.issue(holder, 10)
    with world.engine.begin() as conn:
        conn.execute(sa.text("CREATE OR REPLACE FUNCTION audit_chain_pending(batch integer) "
                             "RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                             "'sequencer down'; END $$"))
    certificate = in_unit_of_work(world.engine, lambda uow: retire_credits(
        uow, holder.id, 3, beneficiary="x", purpose="y"))
    assert json.loads(certificate.fields)["quantity"] == 3
    assert world.holdings(holder)["total"] == 7
    with world.engine.begin() as conn:
        conn.execute(sa.text(CHAIN_DDL))
    with Session(world.engine) as session:
        assert verify_chain(session)["pending"] > 0
    chain_pending(world.engine)
    with Session(world.engine) as session:
        report = verify_chain(session)
        assert _chained_kinds(session, certificate.retirement_id) == ["split", "retire"]
    assert report["intact"] and report["pending"] == 0, report


def test_a_unit_that_fails_after_a_retirement_not_last_writes_nothing(world) -> None:
    """last=False (an idempotency record follows): the statement does not commit, so a
    failure later in the unit of work takes the retirement back with it."""
    holder = world.user("enterprise")
    world.issue(holder, 10)
    blocks = _active(world.engine, holder.id)

    def retire_then_fail(uow):  # noqa: ANN001, ANN202
        retire_credits(uow, holder.id, 2, beneficiary="x", purpose="y", last=False)
        raise _RolledBack

    with pytest.raises(_RolledBack):
        in_unit_of_work(world.engine, retire_then_fail)
    assert _active(world.engine, holder.id) == blocks
    assert world.holdings(holder)["total"] == 10
