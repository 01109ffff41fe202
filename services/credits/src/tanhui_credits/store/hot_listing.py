"""An offset's purchase from the cheapest listing as ONE statement, its COMMIT in the same round
trip (issue 15, the hot listing).

Purchases from one listing used to queue for its row lock, held from the sale's UPDATE to the
end of the COMMIT, so their rate was at most 1 / that time. Now a listing's credits sit in
several blocks, its lanes (domain/serials.lanes, cut when it is created), and a purchase:
locks the event FOR KEY SHARE (as an explicit offset does: see usecases/market.offset_event),
checking it is as the documents describe it, and finds the buyer's account; locks the cheapest
open listing FOR KEY SHARE (purchases do not conflict there; cancel_listing, the general path
and buy_from_listing lock it FOR UPDATE, so they wait for the purchases in flight and the ones
after them wait for it); locks the lanes no other purchase holds, oldest vintage and lowest
serial first, as it takes them (FOR UPDATE SKIP LOCKED; if those do not cover it, it looks
again a moment later); carves them (the last one split: kept lower part, moved upper part,
exactly as domain/serials); writes the blocks' closes and new rows, the retirement,
certificate, payment, audit entries and outbox event; and takes the listing's remaining down
(its listing_stock row, which no foreign key references: store/market_tables.ListingStock)
LAST: the only lock purchases from one listing queue for is held from that UPDATE to the end
of the COMMIT (sent in the same query). On a connection with no transaction open the query is
`BEGIN; <the call>; COMMIT; <the audit sequencer's pass>`, as store/spread_retirement sends a
retirement. The use case prepares every row in Python first (ids, times, the certificate,
audit entries and outbox event as canonical JSON).

A listing is never oversold, twice over: its blocks leave `active` once (conditional UPDATE,
row count checked) and no serial is in two live blocks (ex_block_live_serials); its remaining
is taken down conditionally and ck_listing_remaining keeps it >= 0.

What depends on the serials (ranges, block ids), the buyer's account and the listing is unknown
until they are read and locked: the JSON documents are prepared with placeholders
(`["@@<mark>:<name>@@"]`, `"@@<mark>:<name>@@"`, the mark random per purchase) that the
function replaces by the same canonical JSON Python writes (keys sorted, no spaces;
PostgreSQL's JSON string escaping is RFC 8259's, as json.dumps(ensure_ascii=False)), and
hashes the certificate (sha256 of its UTF-8 text, as domain/hashing.certificate_hash). The
event's name and purpose are Python's (the purpose quotes the name as Python's repr does): the
function checks the event's row names the same event (name, dates, venue, organizer).
tests/test_hot_listing.py compares every row with the general path's.

Nothing written, a status answered instead (the use case then takes the general path, or
refuses as it does): no such event, not its organizer, the event not as described, no holding
account, no open listing covering it. Refusals, each before anything is kept (the function
raises, the transaction rolls back): the cheapest listing sold down while the purchase waited
for a lane (SQLSTATE 40001: the unit of work runs again on fresh state); a block closed by
someone else (TH152 -> BlockAlreadyClosed, 409); blocks not covering what the listing says it
has left, or the listing's remaining short of the blocks taken (TH151 -> InsufficientCredits,
409); any constraint (IntegrityError -> 409).
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg
import sqlalchemy as sa
from psycopg import pq
from psycopg import sql as pg_sql
from sqlalchemy.orm import Session

from .audit import passes_of
from .block_writes import BlockAlreadyClosed
from .spread_retirement import FUNCTION as SPREAD
from .spread_retirement import PASS, PASS_BATCH, after_failure, passes_after
from .tables import CreditsTable

log = logging.getLogger(__name__)

FUNCTION = "hot_listing_sale"
_SAVEPOINT = "hot_listing_sale"
SHORT_BLOCKS = "TH151"  # the listing's blocks hold fewer credits than its remaining says
BLOCK_CLOSED = "TH152"  # a block to close was closed by another transaction
# a serial range and a block's description as canonical JSON: spread_retirement's helpers
RANGE_JSON, BLOCK_JSON = f"{SPREAD}_range", f"{SPREAD}_block"

_SALE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(p jsonb)
RETURNS TABLE (o_status text, o_fields text, o_hash varchar, o_listing varchar,
               o_seller_account varchar, o_seller_user varchar, o_price numeric)
LANGUAGE plpgsql AS $$
DECLARE
    qty integer := (p->>'quantity')::integer;
    wanted integer := (p->>'quantity')::integer;
    prefix text := p->>'serial_prefix';
    mark text := '@@' || (p->>'mark') || ':';
    split_entry varchar := p->>'split_entry';
    transfer_entry varchar := p->>'transfer_entry';
    retire_entry varchar := p->>'retire_entry';
    v_retirement varchar := p->>'retirement_id';
    made timestamptz := (p->>'created_at')::timestamptz;
    ids_from text := pg_get_serial_sequence('serial_block', 'id');
    ev record;
    buyer varchar;
    v_listing varchar;
    v_seller varchar;
    v_seller_user varchar;
    v_price numeric;
    v_remaining integer;
    lanes refcursor;
    listed integer;
    waits integer := 0;
    b record;
    take integer;
    src_id integer;
    src_first integer;
    copy_id integer;
    kept_id integer;
    closed integer;
    closing integer[] := '{{}}';
    closers varchar[] := '{{}}';
    -- the new blocks, column by column (ids drawn here: a copy names its moved part)
    n_id integer[] := '{{}}'; n_project varchar[] := '{{}}'; n_pn integer[] := '{{}}';
    n_vintage integer[] := '{{}}'; n_first integer[] := '{{}}'; n_last integer[] := '{{}}';
    n_account varchar[] := '{{}}'; n_status varchar[] := '{{}}'; n_parent integer[] := '{{}}';
    n_issuance varchar[] := '{{}}'; n_listing varchar[] := '{{}}';
    n_retirement varchar[] := '{{}}'; n_created_by varchar[] := '{{}}';
    n_closed_by varchar[] := '{{}}';
    -- the buyer's retired copies, for the certificate
    c_pn integer[] := '{{}}'; c_vintage integer[] := '{{}}'; c_first integer[] := '{{}}';
    c_last integer[] := '{{}}'; c_project varchar[] := '{{}}'; c_name varchar[] := '{{}}';
    split_details text;
    moved_list text[] := '{{}}';
    retired_list text[] := '{{}}';
    serials text;
    projects text;
    fields text;
    digest varchar;
BEGIN
    -- The event, shared (as an offset of an explicit quantity takes it: such offsets run side
    -- by side, yet wait for and hold off a default offset or a filing, which lock it FOR
    -- UPDATE), as described in the documents Python prepared; the buyer's account; the
    -- cheapest open listing, shared: purchases do not wait for one another there (FOR KEY
    -- SHARE conflicts with neither itself nor the UPDATE at the end), but whoever locks it FOR
    -- UPDATE to take its blocks (cancel_listing, the general path, buy_from_listing) waits for
    -- the purchases in flight, and purchases that come after it wait for it: no lane changes
    -- under them. Any of them not as needed: a status, nothing written
    SELECT x.organizer_user_id, x.name, x.start_date, x.end_date, x.venue, a.id AS account
    INTO ev FROM large_event x LEFT JOIN holding_account a ON a.owner_user_id = p->>'organizer'
    WHERE x.id = p->>'event_id' FOR KEY SHARE OF x;
    IF NOT FOUND THEN
        o_status := 'no-event'; RETURN NEXT; RETURN;
    END IF;
    IF ev.organizer_user_id <> p->>'organizer' THEN
        o_status := 'not-organizer'; RETURN NEXT; RETURN;
    END IF;
    IF (ev.name, ev.start_date, ev.end_date, ev.venue) IS DISTINCT FROM
       (p->>'event_name', (p->>'event_start')::date, (p->>'event_end')::date,
        p->>'event_venue') THEN
        o_status := 'stale'; RETURN NEXT; RETURN;
    END IF;
    buyer := ev.account;
    IF buyer IS NULL THEN
        o_status := 'no-account'; RETURN NEXT; RETURN;
    END IF;
    SELECT c.id, c.seller_account_id, c.seller_user_id, c.price_per_tonne, k.remaining
    INTO v_listing, v_seller, v_seller_user, v_price, v_remaining
    FROM listing c JOIN listing_stock k ON k.listing_id = c.id WHERE k.status = 'open'
    ORDER BY c.price_per_tonne, c.id LIMIT 1 FOR KEY SHARE OF c;
    IF NOT FOUND OR v_remaining < wanted THEN  -- for the general path
        o_status := 'not-covered'; RETURN NEXT; RETURN;
    END IF;
    -- what depends on no block is written before any lane is locked
    INSERT INTO retirement (id, account_id, retired_by_user_id, beneficiary, purpose, quantity,
                            report_id, event_id, redemption_id, certificate_id, retired_at)
    VALUES (v_retirement, buyer, p->>'organizer', ev.name, p->>'purpose', wanted,
            NULL, p->>'event_id', NULL, p->>'certificate_id', (p->>'retired_at')::timestamptz);
    -- its lanes (its active blocks) no other purchase holds, locked as they are taken (oldest
    -- vintage, lowest serial first). If those do not cover it: look again (a fresh snapshot:
    -- the parts of lanes that purchases which committed meanwhile left)
    LOOP
        qty := wanted;
        closing := '{{}}'; closers := '{{}}'; n_id := '{{}}'; n_project := '{{}}';
        n_pn := '{{}}'; n_vintage := '{{}}'; n_first := '{{}}'; n_last := '{{}}';
        n_account := '{{}}'; n_status := '{{}}'; n_parent := '{{}}'; n_issuance := '{{}}';
        n_listing := '{{}}'; n_retirement := '{{}}'; n_created_by := '{{}}';
        n_closed_by := '{{}}'; c_pn := '{{}}'; c_vintage := '{{}}'; c_first := '{{}}';
        c_last := '{{}}'; c_project := '{{}}'; c_name := '{{}}'; moved_list := '{{}}';
        retired_list := '{{}}'; split_details := NULL;
        OPEN lanes FOR
            SELECT s.id, s.project_id, s.project_number, s.vintage, s."first", s."last",
                   s.account_id, s.issuance_id, s.listing_id, pr.name AS project_name
            FROM serial_block s LEFT JOIN registry_project pr ON pr.id = s.project_id
            WHERE s.listing_id = v_listing AND s.status = 'active'
            ORDER BY s.vintage, s."first", s.project_number FOR UPDATE OF s SKIP LOCKED;
        LOOP
            EXIT WHEN qty = 0;  -- before the next FETCH: it would lock one more lane
            FETCH lanes INTO b;
            EXIT WHEN NOT FOUND;
            take := least(qty, b."last" - b."first" + 1);
            qty := qty - take;
            closing := closing || b.id;
            IF take = b."last" - b."first" + 1 THEN  -- the whole block moves
                closers := closers || transfer_entry;
                src_id := b.id;
                src_first := b."first";
            ELSE  -- split: the seller keeps the lower part, the upper part moves
                closers := closers || split_entry;
                kept_id := nextval(ids_from);
                src_id := nextval(ids_from);
                src_first := b."last" - take + 1;
                n_id := n_id || kept_id || src_id;
                n_project := n_project || b.project_id || b.project_id;
                n_pn := n_pn || b.project_number || b.project_number;
                n_vintage := n_vintage || b.vintage || b.vintage;
                n_first := n_first || b."first" || src_first;
                n_last := n_last || (src_first - 1) || b."last";
                n_account := n_account || b.account_id || b.account_id;
                n_status := n_status || 'active'::varchar || 'superseded'::varchar;
                n_parent := n_parent || b.id || b.id;
                n_issuance := n_issuance || b.issuance_id || b.issuance_id;
                n_listing := n_listing || b.listing_id || b.listing_id;
                n_retirement := n_retirement || NULL::varchar || NULL::varchar;
                n_created_by := n_created_by || split_entry || split_entry;
                n_closed_by := n_closed_by || NULL::varchar || transfer_entry;
                split_details := '{{"kept":' || {BLOCK_JSON}(prefix, b.account_id, kept_id,
                        b.project_id, b.project_number, b.vintage, b."first", src_first - 1)
                    || ',"moved":' || {BLOCK_JSON}(prefix, b.account_id, src_id, b.project_id,
                        b.project_number, b.vintage, src_first, b."last")
                    || ',"parent":' || {BLOCK_JSON}(prefix, b.account_id, b.id, b.project_id,
                        b.project_number, b.vintage, b."first", b."last") || '}}';
            END IF;
            -- the buyer's copy of what moves, written retired
            copy_id := nextval(ids_from);
            n_id := n_id || copy_id;
            n_project := n_project || b.project_id;
            n_pn := n_pn || b.project_number;
            n_vintage := n_vintage || b.vintage;
            n_first := n_first || src_first;
            n_last := n_last || b."last";
            n_account := n_account || buyer;
            n_status := n_status || 'retired'::varchar;
            n_parent := n_parent || src_id;
            n_issuance := n_issuance || b.issuance_id;
            n_listing := n_listing || NULL::varchar;
            n_retirement := n_retirement || v_retirement;
            n_created_by := n_created_by || transfer_entry;
            n_closed_by := n_closed_by || retire_entry;
            moved_list := moved_list || ('{{"from":' || {BLOCK_JSON}(prefix, b.account_id,
                    src_id, b.project_id, b.project_number, b.vintage, src_first, b."last")
                || ',"to":' || {BLOCK_JSON}(prefix, buyer, copy_id, b.project_id,
                    b.project_number, b.vintage, src_first, b."last") || '}}');
            retired_list := retired_list || {BLOCK_JSON}(prefix, buyer, copy_id, b.project_id,
                b.project_number, b.vintage, src_first, b."last");
            c_pn := c_pn || b.project_number;
            c_vintage := c_vintage || b.vintage;
            c_first := c_first || src_first;
            c_last := c_last || b."last";
            c_project := c_project || b.project_id;
            c_name := c_name || coalesce(b.project_name, '');
        END LOOP;
        CLOSE lanes;
        EXIT WHEN qty = 0;
        SELECT coalesce(sum(s."last" - s."first" + 1), 0) INTO listed FROM serial_block s
        WHERE s.listing_id = v_listing AND s.status = 'active';
        IF listed < wanted THEN
            IF (SELECT k.remaining FROM listing_stock k WHERE k.listing_id = v_listing)
               < wanted THEN
                -- sold down meanwhile: run again on fresh state (the general path, then)
                RAISE EXCEPTION 'listing % was sold down meanwhile', v_listing
                    USING ERRCODE = '40001';
            END IF;
            RAISE EXCEPTION 'listing % holds blocks of % credits, fewer than it offers',
                v_listing, listed USING ERRCODE = '{SHORT_BLOCKS}', DETAIL = listed::text;
        END IF;
        -- the others are held: look again in a moment. Not by waiting for a lane's lock: a
        -- FOR UPDATE that waited for a purchase locks the version that purchase left (the
        -- closed lane), and waiting purchases holding such locks deadlocked one another
        waits := waits + 1;
        IF waits > 5000 THEN
            RAISE EXCEPTION 'listing %: no lane free after % looks', v_listing, waits
                USING ERRCODE = '40001';
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
    -- closes first: the exclusion constraint sees the parents closed when the parts arrive
    UPDATE serial_block s SET status = 'superseded', closed_by = c.closer
    FROM unnest(closing, closers) AS c(id, closer)
    WHERE s.id = c.id AND s.status = 'active';
    GET DIAGNOSTICS closed = ROW_COUNT;
    IF closed <> cardinality(closing) THEN
        RAISE EXCEPTION 'serial block(s) % were moved or retired by a concurrent request',
            closing USING ERRCODE = '{BLOCK_CLOSED}';
    END IF;
    INSERT INTO serial_block (id, project_id, project_number, vintage, "first", "last",
                              account_id, status, parent_block_id, issuance_id, listing_id,
                              retirement_id, compensation_id, created_by, closed_by, created_at)
    SELECT n.id, n.project_id, n.pn, n.vintage, n.f, n.l, n.account_id, n.status, n.parent,
           n.issuance_id, n.listing_id, n.retirement_id, NULL, n.created_by, n.closed_by, made
    FROM unnest(n_id, n_project, n_pn, n_vintage, n_first, n_last, n_account, n_status,
                n_parent, n_issuance, n_listing, n_retirement, n_created_by, n_closed_by)
         WITH ORDINALITY AS n(id, project_id, pn, vintage, f, l, account_id, status, parent,
                              issuance_id, listing_id, retirement_id, created_by, closed_by, o)
    ORDER BY n.o;
    -- the certificate's serials and projects, ordered as certificate_fields orders them
    SELECT (SELECT '[' || string_agg(to_json({RANGE_JSON}(prefix, t.pn, t.vintage, t.f,
                                                          t.l))::text,
                                     ',' ORDER BY t.pn, t.vintage, t.f) || ']'
            FROM unnest(c_pn, c_vintage, c_first, c_last) AS t(pn, vintage, f, l)),
           (SELECT '[' || string_agg('{{"project_id":' || to_json(g.project)::text
                                     || ',"project_name":' || to_json(g.name)::text
                                     || ',"project_number":' || g.pn::text
                                     || ',"quantity":' || g.quantity::text
                                     || ',"vintage":' || g.vintage::text || '}}',
                                     ',' ORDER BY g.pn, g.vintage, g.f) || ']'
            FROM (SELECT t.project, t.pn, t.vintage, min(t.name) AS name, min(t.f) AS f,
                         sum(t.l - t.f + 1) AS quantity
                  FROM unnest(c_project, c_pn, c_vintage, c_first, c_last, c_name)
                       AS t(project, pn, vintage, f, l, name)
                  GROUP BY t.project, t.pn, t.vintage) g)
    INTO serials, projects;
    fields := replace(replace(p->>'certificate', '["' || mark || 'serials@@"]', serials),
                      '["' || mark || 'projects@@"]', projects);
    digest := encode(sha256(convert_to(fields, 'UTF8')), 'hex');
    -- the certificate, payment, outbox event and the journal in its order (split, transfer,
    -- retire; stamps drawn after every lock), in one statement
    WITH certified AS (
        INSERT INTO certificate (id, retirement_id, redemption_id, fields, content_hash)
        VALUES (p->>'certificate_id', v_retirement, NULL, fields, digest)),
    paid AS (
        INSERT INTO payment (id, listing_id, event_id, seller_account_id, seller_user_id,
                             buyer_user_id, quantity, price_per_tonne, amount, retirement_id,
                             created_at)
        VALUES (p->>'payment_id', v_listing, p->>'event_id', v_seller, v_seller_user,
                p->>'organizer', wanted, v_price, v_price * wanted, v_retirement, made)),
    published AS (
        INSERT INTO outbox (event_id, topic, key, envelope, created_at)
        VALUES (p->>'outbox_event_id', p->>'outbox_topic', p->>'outbox_key',
                replace(p->>'envelope', '["' || mark || 'serials@@"]', serials), made))
    INSERT INTO audit_pending (entry_id, kind, body)
    SELECT e.entry_id, e.kind, e.body FROM (VALUES
        (1, split_entry, 'split',
         replace(p->>'split_body', '"' || mark || 'split@@"', split_details)),
        (2, transfer_entry, 'transfer',
         replace(replace(replace(replace(p->>'transfer_body',
                 '"' || mark || 'seller@@"', to_json(v_seller)::text),
                 '"' || mark || 'account@@"', to_json(buyer)::text),
                 '"' || mark || 'listing@@"', to_json(v_listing)::text),
                 '["' || mark || 'moved@@"]', '[' || array_to_string(moved_list, ',') || ']')),
        (3, retire_entry, 'retire',
         replace(replace(p->>'retire_body', '"' || mark || 'account@@"', to_json(buyer)::text),
                 '["' || mark || 'retired@@"]', '[' || array_to_string(retired_list, ',') || ']'))
    ) AS e(o, entry_id, kind, body)
    WHERE e.body IS NOT NULL ORDER BY e.o;
    -- last, the listing's remaining (its stock's row, which no foreign key references: the
    -- listing's row, share-locked by every purchase in flight, stays unchanged): its row lock,
    -- which purchases from it queue for, is held from here to the end of the COMMIT. Checked
    -- again on the row as the purchase before committed it: a listing whose blocks hold more
    -- than it says it has left is not oversold
    UPDATE listing_stock k SET remaining = k.remaining - wanted,
           status = CASE WHEN k.remaining = wanted THEN 'sold_out' ELSE 'open' END
    WHERE k.listing_id = v_listing AND k.status = 'open' AND k.remaining >= wanted;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'listing % has fewer than % credits left', v_listing, wanted
            USING ERRCODE = '{SHORT_BLOCKS}',
                  DETAIL = (SELECT k.remaining FROM listing_stock k
                            WHERE k.listing_id = v_listing)::text;
    END IF;
    RETURN QUERY SELECT 'sold'::text, fields, digest, v_listing, v_seller, v_seller_user, v_price;
END $$"""
# its helpers are store/spread_retirement's (a database gets them from there)
DDL = (_SALE,)


@sa.event.listens_for(CreditsTable.metadata, "after_create")
def _create_function(target, connection, **_) -> None:  # noqa: ANN001
    # create_all (a database built from the models) gets the function the migration creates
    if {"listing", "listing_stock", "serial_block", "payment", "certificate"} <= {
            t.name for t in target.sorted_tables}:
        for statement in DDL:
            connection.execute(sa.text(statement))


class ListingShort(Exception):
    """The listing's blocks hold fewer credits than its remaining says, or the other way
    round (`available`: what the short one holds)."""

    def __init__(self, available: int) -> None:
        super().__init__(available)
        self.available = available


class Sale(NamedTuple):
    """What the statement answers: `status` 'sold' (then the rest is what it wrote and whom it
    paid), or why it wrote nothing: 'no-event', 'not-organizer', 'stale' (the event is not as
    the documents describe it), 'no-account', 'not-covered' (no open listing covers it: the
    general path's case). `sequenced`: whether its audit entries' chaining is seen to (False:
    the caller runs store/audit.chain_after_commit after its commit)."""

    status: str
    fields: str | None
    content_hash: str | None
    listing_id: str | None
    seller_account_id: str | None
    seller_user_id: str | None
    price_per_tonne: Decimal | None
    sequenced: bool


def sell_and_retire(session: Session, params: dict[str, Any], *, commit: bool) -> Sale:
    """Run the purchase (see the module's docstring). `commit`: commit it in the same round
    trip; the caller's unit of work must then write nothing more. On a connection with no
    transaction open that is one query, `BEGIN; <the call>; COMMIT; <the audit sequencer's
    pass>`, as store/spread_retirement sends a retirement (no BEGIN and COMMIT round trips),
    the pass in it only if no other thread of this process runs one (store/audit.Passes;
    otherwise it is asked for one more after this commit); inside an open transaction, under
    a savepoint, rolled back to if it does not sell, and committed by the unit of work. `sequenced`: False if the caller must run
    store/audit.chain_after_commit once the unit commits.

    One query of several statements needs PostgreSQL's simple protocol, which has no
    parameters: the one parameter, a JSON document, goes as a literal quoted by psycopg (jsonb:
    parsed once, before the function runs; a json value is parsed again by every ->> on it)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    alone = commit and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
    passes = passes_of(connection.engine) if alone else None
    claimed = passes is not None and passes.claim()
    literal = pg_sql.Literal(json.dumps(params)).as_string(driver)
    query = f"SELECT * FROM {FUNCTION}({literal}::jsonb)"
    if alone:
        query = f"BEGIN; {query}; COMMIT" + (f"; {PASS}" if claimed else "")
    else:
        # inside the unit's transaction (an Idempotency-Key's record follows, or the unit read
        # first), under a savepoint and committed with the unit: a purchase that does not sell
        # (a status) gives back the event's and the listing's locks it took. Held to the
        # unit's commit, they deadlocked the general path's FOR UPDATE of that listing in
        # another such purchase (tools/races.py: 20 offsets, each with an Idempotency-Key)
        query = f"SAVEPOINT {_SAVEPOINT}; {query}"
    # by the driver, as block_writes.driver_rows sends statements (the statement counters see
    # it), but without parameters: psycopg sends several statements only so
    events = connection._has_events or connection.engine._has_events
    try:
        if alone:
            driver.autocommit = True
        with driver.cursor() as cursor:
            if events:
                connection.dispatch.before_cursor_execute(connection, cursor, query, None, None,
                                                          False)
            try:
                cursor.execute(query, prepare=False)  # a query text never seen again
                if events:
                    connection.dispatch.after_cursor_execute(connection, cursor, query, None,
                                                             None, False)
                chained = None
                cursor.nextset()  # past the BEGIN or the SAVEPOINT
                row = cursor.fetchone()
                if claimed:
                    cursor.nextset(), cursor.nextset()  # past the COMMIT, to the pass
                    chained = cursor.fetchone()[0]
            except psycopg.Error as exc:
                written = after_failure(driver, params["certificate_id"]) if alone else None
                if claimed:  # what others asked of this claim, then give it up
                    passes_after(cursor, passes, need=written is not None)
                if written is not None:  # the pass failed, after the purchase committed
                    log.warning("the audit pass after a purchase failed (%s); it is retried "
                                "after the commit", exc)
                    return Sale("sold", *written, True)
                if exc.sqlstate == BLOCK_CLOSED:
                    raise BlockAlreadyClosed(str(exc).splitlines()[0]) from exc
                if exc.sqlstate == SHORT_BLOCKS:
                    raise ListingShort(int(exc.diag.message_detail)) from exc
                raise sa.exc.DBAPIError.instance(query, None, exc, psycopg.Error) from exc
            if not alone and row[0] != "sold":
                cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            elif alone and row[0] != "sold":  # nothing written: nothing to chain
                if claimed:
                    passes_after(cursor, passes, need=False)
            elif alone and (claimed or passes.ask_or_claim()):
                # its entries committed: a pass that starts now chains them (as
                # spread_retirement.retire_in_one_call)
                passes_after(cursor, passes,
                             need=chained is None or not 0 <= chained < PASS_BATCH)
    finally:
        if alone and not driver.closed:
            driver.autocommit = False  # as the pool hands connections out
    return Sale(*row, alone)
