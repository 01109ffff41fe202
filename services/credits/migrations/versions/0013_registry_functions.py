"""two PL/pgSQL functions for a movement's hot path (issue 15: CPU per movement)

- audit_chain_pending(batch): one pass of the audit sequencer in one call (it was six round
  trips: try-lock, head and take, chain and head, with BEGIN and COMMIT), the links computed
  by PostgreSQL's sha256 exactly as domain/hashing.link_hash computes them;
- lock_spendable_blocks(owner, project, vintage): a debiting holder's account locked, then its
  spendable blocks read and locked, in one call (each statement of a function takes a fresh
  snapshot, so the blocks are read after the lock as before).

Frozen copies of store/audit.CHAIN_DDL and store/blocks.LOCK_DDL (which a database built from
the models gets): later changes to those modules do not rewrite this revision.

Revision ID: 0013_registry_functions
"""
from alembic import op

revision = "0013_registry_functions"
down_revision = "0012"
branch_labels = None
depends_on = None

CHAIN = """
CREATE OR REPLACE FUNCTION audit_chain_pending(batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    read_seq integer;
    next_seq integer;
    link varchar;
    entry record;
    moved integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(15001) THEN
        RETURN -1;
    END IF;
    SELECT h.last_seq, h.last_hash INTO read_seq, link FROM audit_head h WHERE h.id = 1;
    next_seq := read_seq;
    FOR entry IN
        WITH taken AS (DELETE FROM audit_pending WHERE stamp IN (
                           SELECT p.stamp FROM audit_pending p ORDER BY p.stamp LIMIT batch)
                       RETURNING stamp, entry_id, kind, body)
        SELECT t.entry_id, t.kind, t.body FROM taken t ORDER BY t.stamp
    LOOP
        next_seq := next_seq + 1;
        INSERT INTO audit_entry (seq, entry_id, kind, body, prev_hash, hash)
        VALUES (next_seq, entry.entry_id, entry.kind, entry.body, link,
                encode(sha256(convert_to(link || entry.body, 'UTF8')), 'hex'))
        RETURNING audit_entry.hash INTO link;
    END LOOP;
    IF next_seq = read_seq THEN
        RETURN 0;
    END IF;
    UPDATE audit_head SET last_seq = next_seq, last_hash = link
    WHERE id = 1 AND last_seq = read_seq;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved <> 1 THEN
        RAISE EXCEPTION 'the audit chain''s head moved past % meanwhile', read_seq
            USING ERRCODE = 'TH001';
    END IF;
    RETURN next_seq - read_seq;
END $$"""

LOCK = """
CREATE OR REPLACE FUNCTION lock_spendable_blocks(p_owner varchar, p_project varchar,
                                           p_vintage integer) RETURNS TABLE (o_account_id varchar, o_id integer, o_project_id varchar, o_project_number integer, o_vintage integer, o_first integer, o_last integer, o_block_account_id varchar, o_status varchar, o_parent_block_id integer, o_issuance_id varchar, o_listing_id varchar, o_retirement_id varchar, o_compensation_id varchar, o_created_by varchar, o_closed_by varchar, o_created_at timestamptz, o_project_name varchar)
LANGUAGE plpgsql AS $$
DECLARE
    v_account varchar;
BEGIN
    SELECT a.id INTO v_account FROM holding_account a WHERE a.owner_user_id = p_owner
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT v_account, b."id", b."project_id", b."project_number", b."vintage", b."first", b."last", b."account_id", b."status", b."parent_block_id", b."issuance_id", b."listing_id", b."retirement_id", b."compensation_id", b."created_by", b."closed_by", b."created_at", p.name
        FROM serial_block b LEFT JOIN registry_project p ON p.id = b.project_id
        WHERE b.account_id = v_account AND b.status = 'active' AND b.listing_id IS NULL
          AND (p_project IS NULL OR b.project_id = p_project)
          AND (p_vintage IS NULL OR b.vintage = p_vintage)
        ORDER BY b.id FOR UPDATE OF b;
    IF NOT FOUND THEN
        o_account_id := v_account;
        RETURN NEXT;
    END IF;
END $$"""


def upgrade() -> None:
    op.execute(CHAIN)
    op.execute(LOCK)


def downgrade() -> None:
    op.execute("DROP FUNCTION lock_spendable_blocks(varchar, varchar, integer)")
    op.execute("DROP FUNCTION audit_chain_pending(integer)")
