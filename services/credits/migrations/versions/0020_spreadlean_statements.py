"""spread_retirement(p jsonb) with fewer statements (issue 15, the spread retirements'
CPU): a single block closed by its id (no unnest join), the certificate's serials and projects
from a single block built without a statement, the retirement, certificate and outbox row
written with the audit entries in one statement, and the answer by RETURN NEXT. Same rows,
same certificate bytes and hash (tests/test_spread_retirement.py); more than one block, as
before.

A frozen copy of store/spread_retirement._RETIRE (which a database built from the models gets):
later changes to the module do not rewrite this revision. Downgrade: revision 0018's function.

Revision ID: 0020_spreadlean_statements
"""
from alembic import op

revision = "0020_spreadlean_statements"
down_revision = "0019_outbox_notify_while_asleep"
BEFORE = "0018_spread_retirement_call"  # the revision whose function a downgrade restores
branch_labels = None
depends_on = None

RETIRE = r"""
CREATE OR REPLACE FUNCTION spread_retirement(p jsonb) RETURNS TABLE (o_fields text, o_hash varchar)
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
    closing integer[] := '{}';
    statuses varchar[] := '{}';
    closers varchar[] := '{}';
    retirements varchar[] := '{}';
    -- the split block (at most one: only the last pick can be partial)
    s record;
    split_details text;
    -- what is retired, in pick order, for the entry; and for the certificate
    retired_list text[] := '{}';
    c_pn integer[] := '{}'; c_vintage integer[] := '{}'; c_first integer[] := '{}';
    c_last integer[] := '{}'; c_project varchar[] := '{}'; c_name varchar[] := '{}';
    serials text;
    projects text;
    fields text;
    digest varchar;
BEGIN
    -- the account's row lock: every debit of it queues here (store/blocks.LOCK_DDL)
    SELECT a.id INTO v_account FROM holding_account a WHERE a.owner_user_id = p->>'owner'
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no holding account for %', p->>'owner' USING ERRCODE = 'TH161';
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
            split_details := '{"kept":' || spread_retirement_block(prefix, v_account, kept_id,
                    b.project_id, b.project_number, b.vintage, b."first", moved_first - 1)
                || ',"moved":' || spread_retirement_block(prefix, v_account, moved_id, b.project_id,
                    b.project_number, b.vintage, moved_first, b."last")
                || ',"parent":' || spread_retirement_block(prefix, v_account, b.id, b.project_id,
                    b.project_number, b.vintage, b."first", b."last") || '}';
        END IF;
        retired_list := retired_list || spread_retirement_block(prefix, v_account, moved_id,
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
            USING ERRCODE = 'TH162', DETAIL = (wanted - qty)::text;
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
            closing USING ERRCODE = 'TH163';
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
        serials := '[' || to_json(spread_retirement_range(prefix, c_pn[1], c_vintage[1], c_first[1],
                                                   c_last[1]))::text || ']';
        projects := '[{"project_id":' || to_json(c_project[1])::text
                    || ',"project_name":' || to_json(c_name[1])::text
                    || ',"project_number":' || c_pn[1]::text
                    || ',"quantity":' || (c_last[1] - c_first[1] + 1)::text
                    || ',"vintage":' || c_vintage[1]::text || '}]';
    ELSE
        SELECT '[' || string_agg(to_json(spread_retirement_range(prefix, t.pn, t.vintage, t.f, t.l))::text,
                                 ',' ORDER BY t.pn, t.vintage, t.f) || ']'
        INTO serials FROM unnest(c_pn, c_vintage, c_first, c_last) AS t(pn, vintage, f, l);
        SELECT '[' || string_agg('{"project_id":' || to_json(g.project)::text
                                 || ',"project_name":' || to_json(g.name)::text
                                 || ',"project_number":' || g.pn::text
                                 || ',"quantity":' || g.quantity::text
                                 || ',"vintage":' || g.vintage::text || '}',
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


def upgrade() -> None:
    op.execute(RETIRE)


def downgrade() -> None:
    from alembic import context  # the function's revision before: its own frozen copy
    op.execute(context.script.get_revision(BEFORE).module.RETIRE)
