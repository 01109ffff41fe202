"""A holder's retirement as ONE statement, its COMMIT in the same round trip (issue 15, the
spread retirements: many holders, each retiring from its own account).

Done by the general path (usecases/retirements.retire_credits with store/blocks' moves) a
1-credit retirement was three statements, a BEGIN and a COMMIT, and most of its CPU was the
Python that staged, described and wrote the rows. Here the use case prepares in Python what
depends on no block (ids, times, the certificate, audit entries and outbox event as canonical
JSON, what depends on the serials left as placeholders), and one PL/pgSQL function does the
rest: lock the holder's account (the queue every debit of it waits in, as
lock_spendable_blocks), lock its spendable blocks oldest vintage and lowest serial first (a
fresh snapshot: the debit before ours committed) and carve the credits as domain/serials does
(the last block split: kept lower part, retired upper part), write the closes (conditional,
their count checked) and the new blocks, the retirement, certificate, audit entries and
outbox event. On a connection with no transaction open it goes as one query
`BEGIN; <the call>; COMMIT; <the audit sequencer's pass>` (no BEGIN and COMMIT round trips,
and no pass to run after the commit; the pass left out while another thread of the process
runs one, which is asked for one more); inside an open transaction, with `; COMMIT` in the
same query. Either way the locks are held only inside the server.

The placeholders (`["@@<mark>:<name>@@"]`, `"@@<mark>:<name>@@"`, the mark random per
retirement, so no beneficiary can forge one) are replaced by the canonical JSON Python writes
(keys sorted, no spaces; PostgreSQL escapes JSON strings as json.dumps(ensure_ascii=False)),
and the certificate hashed as domain/hashing.certificate_hash. tests/test_spread_retirement.py
compares every row with the general path's.

Refusals, each before anything is kept (the function raises, the transaction rolls back): no
holding account (TH161), fewer spendable credits than asked (TH162, the count in DETAIL), a
block closed by someone else meanwhile (TH163), any constraint (IntegrityError -> 409).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import pq
from psycopg import sql as pg_sql
from sqlalchemy.orm import Session

from .audit import CHAIN_FUNCTION, MAX_PASSES, Passes, passes_of
from .block_writes import BlockAlreadyClosed
from .tables import CreditsTable

log = logging.getLogger(__name__)

FUNCTION = "spread_retirement"
NO_ACCOUNT = "TH161"
SHORT = "TH162"  # fewer spendable credits than asked: the count in DETAIL
BLOCK_CLOSED = "TH163"
PASS_BATCH = 1000
PASS = f"SELECT {CHAIN_FUNCTION}({PASS_BATCH})"  # one pass of store/audit's sequencer

# a serial range and a block's description (store/blocks.describe) as canonical JSON; STABLE
# as their bodies are (to_json): an IMMUTABLE one is not inlined, and a call from PL/pgSQL
# then plans its body again in every transaction (0.11 ms a call, four calls a retirement)
_RANGE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}_range(prefix text, pn integer, vintage integer,
                                            f integer, l integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT prefix || '-' || CASE WHEN pn < 10000 THEN lpad(pn::text, 4, '0') ELSE pn::text END
           || '-' || vintage::text
           || '-' || CASE WHEN f < 1000000000 THEN lpad(f::text, 9, '0') ELSE f::text END
           || '-' || CASE WHEN l < 1000000000 THEN lpad(l::text, 9, '0') ELSE l::text END
$$"""
_BLOCK = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}_block(prefix text, account varchar, id integer,
                                            project varchar, pn integer, vintage integer,
                                            f integer, l integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '{{"account_id":' || to_json(account)::text || ',"block_id":' || id::text
           || ',"project_id":' || to_json(project)::text || ',"quantity":' || (l - f + 1)::text
           || ',"serials":' || to_json({FUNCTION}_range(prefix, pn, vintage, f, l))::text
           || ',"vintage":' || vintage::text || '}}'
$$"""
_RETIRE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(p jsonb) RETURNS TABLE (o_fields text, o_hash varchar)
LANGUAGE plpgsql AS $$
DECLARE
    qty integer := (p->>'quantity')::integer;
    wanted integer := (p->>'quantity')::integer;
    v_project varchar := p->>'project_id';
    v_vintage integer := (p->>'vintage')::integer;
    prefix text := p->>'serial_prefix';
    mark text := '@@' || (p->>'mark') || ':';
    split_entry varchar := p->>'split_entry';
    retire_entry varchar := p->>'retire_entry';
    v_retirement varchar := p->>'retirement_id';
    made timestamptz := (p->>'created_at')::timestamptz;
    v_account varchar;
    b record;
    take integer;
    closed integer;
    kept_id integer;
    moved_id integer;
    moved_first integer;
    closing integer[] := '{{}}';
    statuses varchar[] := '{{}}';
    closers varchar[] := '{{}}';
    retirements varchar[] := '{{}}';
    -- the split block (at most one: only the last pick can be partial)
    s record;
    split_details text;
    -- what is retired, in pick order, for the entry; and for the certificate
    retired_list text[] := '{{}}';
    c_pn integer[] := '{{}}'; c_vintage integer[] := '{{}}'; c_first integer[] := '{{}}';
    c_last integer[] := '{{}}'; c_project varchar[] := '{{}}'; c_name varchar[] := '{{}}';
    serials text;
    projects text;
    fields text;
    digest varchar;
BEGIN
    -- the account's row lock: every debit of it queues here (store/blocks.LOCK_DDL)
    SELECT a.id INTO v_account FROM holding_account a WHERE a.owner_user_id = p->>'owner'
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no holding account for %', p->>'owner' USING ERRCODE = '{NO_ACCOUNT}';
    END IF;
    -- its spendable blocks (a fresh snapshot, after the lock), in the order they are taken
    FOR b IN
        SELECT x.id, x.project_id, x.project_number, x.vintage, x."first", x."last",
               x.issuance_id, pr.name AS project_name
        FROM serial_block x LEFT JOIN registry_project pr ON pr.id = x.project_id
        WHERE x.account_id = v_account AND x.status = 'active' AND x.listing_id IS NULL
          AND (v_project IS NULL OR x.project_id = v_project)
          AND (v_vintage IS NULL OR x.vintage = v_vintage)
        ORDER BY x.vintage, x."first", x.project_number FOR UPDATE OF x
    LOOP
        take := least(qty, b."last" - b."first" + 1);
        qty := qty - take;
        closing := closing || b.id;
        IF take = b."last" - b."first" + 1 THEN  -- the whole block is retired
            statuses := statuses || 'retired'::varchar;
            closers := closers || retire_entry;
            retirements := retirements || v_retirement;
            moved_id := b.id;
            moved_first := b."first";
        ELSE  -- split: the holder keeps the lower part, the upper part is retired
            statuses := statuses || 'superseded'::varchar;
            closers := closers || split_entry;
            retirements := retirements || NULL::varchar;
            kept_id := nextval('serial_block_id_seq'::regclass);
            moved_id := nextval('serial_block_id_seq'::regclass);
            moved_first := b."last" - take + 1;
            s := b;
            split_details := '{{"kept":' || {FUNCTION}_block(prefix, v_account, kept_id,
                    b.project_id, b.project_number, b.vintage, b."first", moved_first - 1)
                || ',"moved":' || {FUNCTION}_block(prefix, v_account, moved_id, b.project_id,
                    b.project_number, b.vintage, moved_first, b."last")
                || ',"parent":' || {FUNCTION}_block(prefix, v_account, b.id, b.project_id,
                    b.project_number, b.vintage, b."first", b."last") || '}}';
        END IF;
        retired_list := retired_list || {FUNCTION}_block(prefix, v_account, moved_id,
            b.project_id, b.project_number, b.vintage, moved_first, b."last");
        c_pn := c_pn || b.project_number;
        c_vintage := c_vintage || b.vintage;
        c_first := c_first || moved_first;
        c_last := c_last || b."last";
        c_project := c_project || b.project_id;
        c_name := c_name || coalesce(b.project_name, '');
        EXIT WHEN qty = 0;
    END LOOP;
    IF qty > 0 THEN
        RAISE EXCEPTION 'insufficient credits: % requested, % available', wanted, wanted - qty
            USING ERRCODE = '{SHORT}', DETAIL = (wanted - qty)::text;
    END IF;
    -- closes first: the exclusion constraint sees the parent closed when its parts arrive
    -- (several found by id as an array: joined to the unnest alone, the planner may expect 100
    -- rows and scan all of serial_block, as store/block_writes says)
    IF cardinality(closing) = 1 THEN  -- the common case, without the join
        UPDATE serial_block x SET status = statuses[1], closed_by = closers[1],
               retirement_id = retirements[1]
        WHERE x.id = closing[1] AND x.status = 'active';
    ELSE
        UPDATE serial_block x SET status = c.status, closed_by = c.closer,
               retirement_id = c.retirement
        FROM unnest(closing, statuses, closers, retirements) AS c(id, status, closer, retirement)
        WHERE x.id = ANY(closing) AND x.id = c.id AND x.status = 'active';
    END IF;
    GET DIAGNOSTICS closed = ROW_COUNT;
    IF closed <> cardinality(closing) THEN
        RAISE EXCEPTION 'serial block(s) % were moved or retired by a concurrent request',
            closing USING ERRCODE = '{BLOCK_CLOSED}';
    END IF;
    IF split_details IS NOT NULL THEN  -- the kept part, then the retired part (their ids' order)
        INSERT INTO serial_block (id, project_id, project_number, vintage, "first", "last",
                                  account_id, status, parent_block_id, issuance_id, listing_id,
                                  retirement_id, compensation_id, created_by, closed_by,
                                  created_at)
        VALUES (kept_id, s.project_id, s.project_number, s.vintage, s."first",
                s."last" - take, v_account, 'active', s.id, s.issuance_id, NULL, NULL, NULL,
                split_entry, NULL, made),
               (moved_id, s.project_id, s.project_number, s.vintage, s."last" - take + 1,
                s."last", v_account, 'retired', s.id, s.issuance_id, NULL, v_retirement, NULL,
                split_entry, retire_entry, made);
    END IF;
    -- the certificate's serials and projects, ordered as certificate_fields orders them
    -- (from one block, the common case, without a statement: a tenth of the call's CPU went
    -- to statements that wrote nothing, issue 15)
    IF cardinality(c_pn) = 1 THEN
        serials := '[' || to_json({FUNCTION}_range(prefix, c_pn[1], c_vintage[1], c_first[1],
                                                   c_last[1]))::text || ']';
        projects := '[{{"project_id":' || to_json(c_project[1])::text
                    || ',"project_name":' || to_json(c_name[1])::text
                    || ',"project_number":' || c_pn[1]::text
                    || ',"quantity":' || (c_last[1] - c_first[1] + 1)::text
                    || ',"vintage":' || c_vintage[1]::text || '}}]';
    ELSE
        SELECT '[' || string_agg(to_json({FUNCTION}_range(prefix, t.pn, t.vintage, t.f, t.l))::text,
                                 ',' ORDER BY t.pn, t.vintage, t.f) || ']'
        INTO serials FROM unnest(c_pn, c_vintage, c_first, c_last) AS t(pn, vintage, f, l);
        SELECT '[' || string_agg('{{"project_id":' || to_json(g.project)::text
                                 || ',"project_name":' || to_json(g.name)::text
                                 || ',"project_number":' || g.pn::text
                                 || ',"quantity":' || g.quantity::text
                                 || ',"vintage":' || g.vintage::text || '}}',
                                 ',' ORDER BY g.pn, g.vintage, g.f) || ']'
        INTO projects FROM (
            SELECT t.project, t.pn, t.vintage, min(t.name) AS name, min(t.f) AS f,
                   sum(t.l - t.f + 1) AS quantity
            FROM unnest(c_project, c_pn, c_vintage, c_first, c_last, c_name)
                 AS t(project, pn, vintage, f, l, name)
            GROUP BY t.project, t.pn, t.vintage) g;
    END IF;
    fields := replace(replace(p->>'certificate', '["' || mark || 'serials@@"]', serials),
                      '["' || mark || 'projects@@"]', projects);
    digest := encode(sha256(convert_to(fields, 'UTF8')), 'hex');
    -- the rows nothing written after them references, in one statement
    WITH retired AS (
        INSERT INTO retirement (id, account_id, retired_by_user_id, beneficiary, purpose,
                                quantity, report_id, event_id, redemption_id, certificate_id,
                                retired_at)
        VALUES (v_retirement, v_account, p->>'owner', p->>'beneficiary', p->>'purpose', wanted,
                NULL, NULL, NULL, p->>'certificate_id', (p->>'retired_at')::timestamptz)
    ), certified AS (
        INSERT INTO certificate (id, retirement_id, redemption_id, fields, content_hash)
        VALUES (p->>'certificate_id', v_retirement, NULL, fields, digest)
    ), published AS (
        INSERT INTO outbox (event_id, topic, key, envelope, created_at)
        VALUES (p->>'outbox_event_id', p->>'outbox_topic', p->>'outbox_key',
                replace(p->>'envelope', '["' || mark || 'serials@@"]', serials), made)
    )
    -- the journal in its order (split, retire): stamps drawn after every lock
    INSERT INTO audit_pending (entry_id, kind, body)
    SELECT e.entry_id, e.kind, e.body FROM (VALUES
        (1, split_entry, 'split',
         replace(p->>'split_body', '"' || mark || 'split@@"', split_details)),
        (2, retire_entry, 'retire',
         replace(replace(p->>'retire_body', '"' || mark || 'account@@"',
                         to_json(v_account)::text),
                 '["' || mark || 'retired@@"]', '[' || array_to_string(retired_list, ',') || ']'))
    ) AS e(o, entry_id, kind, body)
    WHERE e.body IS NOT NULL ORDER BY e.o;
    o_fields := fields;
    o_hash := digest;
    RETURN NEXT;
END $$"""
DDL = (_RANGE, _BLOCK, _RETIRE)  # in this order: each uses the one before


@sa.event.listens_for(CreditsTable.metadata, "after_create")
def _create_function(target, connection, **_) -> None:  # noqa: ANN001
    # create_all (a database built from the models) gets the function the migration creates
    if {"holding_account", "serial_block", "retirement", "certificate"} <= {
            t.name for t in target.sorted_tables}:
        for statement in DDL:
            connection.execute(sa.text(statement))


class NoAccount(Exception):
    """The owner has no holding account."""


class Short(Exception):
    """Fewer spendable credits than asked (the count found)."""

    def __init__(self, available: int) -> None:
        super().__init__(available)
        self.available = available


@dataclass(frozen=True, slots=True)
class WrittenCertificate:
    """A certificate as the statement wrote it (its columns): what the use case answers.
    A table model would do, but building one cost a tenth of a retirement's Python."""

    id: str
    retirement_id: str
    fields: str
    content_hash: str
    redemption_id: str | None = None


def retire_in_one_call(session: Session, params: dict[str, Any], *, commit: bool
                       ) -> tuple[str, str, bool]:
    """Run the retirement (see the module's docstring): (certificate fields, content hash,
    whether its audit entries' sequencing is seen to: False if the caller must run
    store/audit.chain_after_commit once the unit commits).
    `commit`: commit it in the same round trip; the caller's unit of work must then write
    nothing more.

    One query of several statements needs PostgreSQL's simple protocol, which has no
    parameters: the one parameter, a JSON document, goes as a literal quoted by psycopg (jsonb:
    parsed once, before the function runs)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    literal = pg_sql.Literal(json.dumps(params)).as_string(driver)
    query = f"SELECT o_fields, o_hash FROM {FUNCTION}({literal}::jsonb)"
    # No transaction open yet (nothing sent in this unit): in autocommit, the retirement's own
    # transaction, then the audit sequencer's pass in one of its own (store/audit: it chains
    # committed entries only), both in the round trip; the use case then has no pass to run
    # after the commit (a pool checkout and a round trip, a quarter of a retirement's Python).
    # The pass goes only if no other pass of this process runs (store/audit.Passes): most of
    # them found the lock taken by another thread's pass (issue 15: 1,035 of 1,200 on 8
    # threads), each still a transaction; after the commit this one asks the running pass
    # for one more instead. In an open transaction, the COMMIT goes in the same query.
    alone = commit and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
    passes = passes_of(session.get_bind()) if alone else None
    claimed = passes is not None and passes.claim()
    if alone:
        query = f"BEGIN; {query}; COMMIT" + (f"; {PASS}" if claimed else "")
    elif commit:
        query += "; COMMIT"
    events = connection._has_events or connection.engine._has_events  # statement counters
    try:
        if alone:
            driver.autocommit = True
        with driver.cursor() as cursor:
            if events:
                connection.dispatch.before_cursor_execute(connection, cursor, query, None,
                                                          None, False)
            try:
                cursor.execute(query, prepare=False)  # a query text never seen again
                if events:
                    connection.dispatch.after_cursor_execute(connection, cursor, query, None,
                                                             None, False)
                chained = None
                if alone:
                    cursor.nextset()  # past the BEGIN
                row = cursor.fetchone()
                if claimed:
                    cursor.nextset(), cursor.nextset()  # past the COMMIT, to the pass
                    chained = cursor.fetchone()[0]
            except psycopg.Error as exc:
                written = after_failure(driver, params["certificate_id"]) if alone else None
                if claimed:  # what others asked of this claim, then give it up
                    passes_after(cursor, passes, need=written is not None)
                if written is not None:  # the pass failed, after the retirement committed
                    log.warning("the audit pass after a retirement failed (%s); it is retried "
                                "after the commit", exc)
                    return written[0], written[1], True
                _raise_refusal(exc, query)
            if alone:
                # its entries committed: a pass that starts now chains them (the claimed one
                # again unless it ran whole: -1 is another process's sequencer, which may have
                # looked before our commit; a full batch, more may wait)
                if claimed or passes.ask_or_claim():
                    passes_after(cursor, passes,
                                  need=chained is None or not 0 <= chained < PASS_BATCH)
    finally:
        if alone and not driver.closed:
            driver.autocommit = False  # as the pool hands connections out
    return row[0], row[1], alone


def passes_after(cursor: psycopg.Cursor, passes: Passes, *, need: bool) -> None:
    """The runner of this process's passes (store/audit.Passes), on the movement's own
    connection (autocommit, no pool checkout): a pass if `need`, then one more while others
    ask (MAX_PASSES in all), and the claim given up. A pass that fails is logged: the retirement
    stands, its entries stay pending for the next pass (the next commit's, or the relay's)."""
    released = False
    try:
        for _ in range(MAX_PASSES):
            while need:
                cursor.execute(PASS)
                chained = cursor.fetchone()[0]
                need = chained >= PASS_BATCH  # -1: another sequencer's pass chains them
            if not passes.another():
                released = True
                return
            need = True
    except psycopg.Error as exc:
        log.warning("an audit pass after a retirement failed (%s); the next pass chains its "
                    "entries", exc)
    finally:
        if not released:
            passes.release()


def _raise_refusal(exc: psycopg.Error, query: str) -> None:
    state = exc.sqlstate
    if state == NO_ACCOUNT:
        raise NoAccount(str(exc).splitlines()[0]) from exc
    if state == SHORT:
        raise Short(int(exc.diag.message_detail)) from exc
    if state == BLOCK_CLOSED:
        raise BlockAlreadyClosed(str(exc).splitlines()[0]) from exc
    raise sa.exc.DBAPIError.instance(query, None, exc, psycopg.Error) from exc


_WRITTEN = """
SELECT c.fields, c.content_hash, p.listing_id, p.seller_account_id, p.seller_user_id,
       p.price_per_tonne
FROM certificate c LEFT JOIN payment p ON p.retirement_id = c.retirement_id WHERE c.id = %s"""


def after_failure(driver: psycopg.Connection, certificate_id: str) -> tuple | None:
    """After a failed query of the autocommit path: its explicit transaction rolled back (an
    error there leaves it open), and the certificate (with the payment of a purchase) if the
    movement committed before the failure (then only the pass failed)."""
    try:
        if driver.pgconn.transaction_status == pq.TransactionStatus.INERROR:
            driver.execute("ROLLBACK")
        return driver.execute(_WRITTEN, (certificate_id,)).fetchone()
    except psycopg.Error:
        return None  # e.g. the connection lost: the original error stands
