"""spread_retirement(p jsonb): a holder's retirement in one call (issue 15, the spread
retirements): lock the holder's account and its spendable blocks, carve the credits, write the
blocks, retirement, certificate, audit entries and outbox event, so the caller can commit in the
same round trip and the account's lock is held only inside the server. With its two helpers,
spread_retirement_range and spread_retirement_block (serial ranges and block descriptions as
canonical JSON).

Frozen copies of store/spread_retirement.DDL (which a database built from the models gets):
later changes to the module do not rewrite this revision.

Revision ID: 0018_spread_retirement_call
"""
from alembic import op

revision = "0018_spread_retirement_call"
down_revision = "0017_listing_lanes"
branch_labels = None
depends_on = None

RANGE = r"""
CREATE OR REPLACE FUNCTION spread_retirement_range(prefix text, pn integer, vintage integer,
                                            f integer, l integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT prefix || '-' || CASE WHEN pn < 10000 THEN lpad(pn::text, 4, '0') ELSE pn::text END
           || '-' || vintage::text
           || '-' || CASE WHEN f < 1000000000 THEN lpad(f::text, 9, '0') ELSE f::text END
           || '-' || CASE WHEN l < 1000000000 THEN lpad(l::text, 9, '0') ELSE l::text END
$$"""
BLOCK = r"""
CREATE OR REPLACE FUNCTION spread_retirement_block(prefix text, account varchar, id integer,
                                            project varchar, pn integer, vintage integer,
                                            f integer, l integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '{"account_id":' || to_json(account)::text || ',"block_id":' || id::text
           || ',"project_id":' || to_json(project)::text || ',"quantity":' || (l - f + 1)::text
           || ',"serials":' || to_json(spread_retirement_range(prefix, pn, vintage, f, l))::text
           || ',"vintage":' || vintage::text || '}'
$$"""
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
    -- (found by id as an array: joined to the unnest alone, the planner may expect 100 rows
    -- and scan all of serial_block, as store/block_writes says)
    UPDATE serial_block x SET status = c.status, closed_by = c.closer,
           retirement_id = c.retirement
    FROM unnest(closing, statuses, closers, retirements) AS c(id, status, closer, retirement)
    WHERE x.id = ANY(closing) AND x.id = c.id AND x.status = 'active';
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
    INSERT INTO retirement (id, account_id, retired_by_user_id, beneficiary, purpose, quantity,
                            report_id, event_id, redemption_id, certificate_id, retired_at)
    VALUES (v_retirement, v_account, p->>'owner', p->>'beneficiary', p->>'purpose', wanted,
            NULL, NULL, NULL, p->>'certificate_id', (p->>'retired_at')::timestamptz);
    -- the certificate's serials and projects, ordered as certificate_fields orders them
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
    fields := replace(replace(p->>'certificate', '["' || mark || 'serials@@"]', serials),
                      '["' || mark || 'projects@@"]', projects);
    digest := encode(sha256(convert_to(fields, 'UTF8')), 'hex');
    INSERT INTO certificate (id, retirement_id, redemption_id, fields, content_hash)
    VALUES (p->>'certificate_id', v_retirement, NULL, fields, digest);
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
    INSERT INTO outbox (event_id, topic, key, envelope, created_at)
    VALUES (p->>'outbox_event_id', p->>'outbox_topic', p->>'outbox_key',
            replace(p->>'envelope', '["' || mark || 'serials@@"]', serials), made);
    RETURN QUERY SELECT fields, digest;
END $$"""


def upgrade() -> None:
    for function in (RANGE, BLOCK, RETIRE):
        op.execute(function)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS spread_retirement(jsonb)")
    op.execute("DROP FUNCTION IF EXISTS spread_retirement_block(text, varchar, integer, varchar, "
               "integer, integer, integer, integer)")
    op.execute("DROP FUNCTION IF EXISTS spread_retirement_range(text, integer, integer, integer, "
               "integer)")
