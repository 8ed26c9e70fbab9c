-- idempg schema. __P__ is the table prefix (WithTablePrefix, default
-- idempg_); Migrate substitutes it and runs this file as one simple-protocol
-- query, that is one transaction, under an advisory lock so that instances
-- migrating at once do not trip over each other's CREATE OR REPLACE.
-- Every statement is idempotent: Migrate may run at every deployment. (A later
-- change to a function's parameters or result columns needs a DROP FUNCTION
-- first: CREATE OR REPLACE cannot change them.)
SELECT pg_advisory_xact_lock(hashtext('idempg migrate __P__'));

-- Fencing tokens: one global sequence, so that a token is never issued
-- twice, even for a key that was deleted and claimed again.
CREATE SEQUENCE IF NOT EXISTS __P__tokens;

CREATE TABLE IF NOT EXISTS __P__records (
  key         bytea PRIMARY KEY,              -- the scoped key's bytes (any bytes: NUL, invalid UTF-8)
  version     smallint NOT NULL,              -- record format version (FormatVersion)
  state       smallint NOT NULL,              -- 1 in flight, 2 completed, 3 tombstone, 4 uncertain
  fingerprint bytea    NOT NULL,
  token       bigint   NOT NULL,              -- fencing token; 0 after Resolve (no claim holds it)
  nonce       bigint   NOT NULL DEFAULT 0,    -- the claim's attempt nonce; on a stranded record the stranding Begin's
  committed   smallint NOT NULL DEFAULT 0,    -- 1 a Commit()ed claim, 2 the uncertain record Begin made of a stranded claim
  lease_until timestamptz,                    -- NULL once final
  expires_at  timestamptz NOT NULL,           -- an expired record is absent, whether or not Purge has reached it
  payload     bytea,
  sig         bytea,                          -- core.Attempt.Sig
  commit_sig  bytea,                          -- the sig of core.Store.Commit
  waited      boolean  NOT NULL DEFAULT false -- a Begin found the claim in flight: its end is NOTIFYed
);
-- Purge deletes in expiry order.
CREATE INDEX IF NOT EXISTS __P__records_expires ON __P__records (expires_at);

CREATE TABLE IF NOT EXISTS __P__cooldowns (
  name  bytea PRIMARY KEY,
  until timestamptz NOT NULL
);

-- __P__begin: core.Store.Begin in one statement (one round trip).
-- outcome: 1 claimed (tok, took_over), 2 a final record of the same
-- fingerprint, 3 mismatch, 4 in flight. A live record of a format version
-- or state this code does not know raises IDV01 (never overwritten, never
-- taken for absent); an expired one is absent, as to every other call.
--
-- Replays cost one index lookup and write nothing: a live final record is
-- answered from a plain SELECT. Everything else locks the row (or inserts
-- it) and decides on the newest committed version: READ COMMITTED takes a
-- fresh snapshot per statement, and FOR UPDATE waits for a concurrent
-- writer and then returns its version, so concurrent Begins serialise on
-- the row.
CREATE OR REPLACE FUNCTION __P__begin(p_key bytea, p_fp bytea, p_lease_ms bigint, p_ttl_ms bigint,
    p_nonce bigint, p_sig bytea, p_version int)
RETURNS TABLE (outcome int, tok bigint, took_over boolean, stranded boolean, st smallint, fp bytea,
    com smallint, lease timestamptz, expires timestamptz, pay bytea, sg bytea, csg bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
  r __P__records%ROWTYPE;
  now_ timestamptz := clock_timestamp();
  strand boolean := false;
  t bigint;
BEGIN
  SELECT * INTO r FROM __P__records WHERE key = p_key;
  IF FOUND AND r.state IN (2, 3, 4) AND r.expires_at > now_ AND NOT (r.state = 4 AND r.committed = 2)
     AND r.version = p_version THEN
    RETURN QUERY SELECT CASE WHEN r.fingerprint = p_fp THEN 2 ELSE 3 END, r.token, false, false,
      r.state, r.fingerprint, r.committed, r.lease_until, r.expires_at, r.payload, NULL::bytea, NULL::bytea;
    RETURN;
  END IF;
  LOOP
    IF NOT FOUND THEN
      INSERT INTO __P__records (key, version, state, fingerprint, token, nonce, lease_until, expires_at, sig)
      VALUES (p_key, p_version, 1, p_fp, nextval('__P__tokens'), p_nonce,
              now_ + p_lease_ms * interval '1 ms', now_ + p_ttl_ms * interval '1 ms', p_sig)
      ON CONFLICT (key) DO NOTHING
      RETURNING token INTO t;
      IF FOUND THEN
        RETURN QUERY SELECT 1, t, false, false, NULL::smallint, NULL::bytea, NULL::smallint,
          NULL::timestamptz, NULL::timestamptz, NULL::bytea, NULL::bytea, NULL::bytea;
        RETURN;
      END IF;
    END IF;
    SELECT * INTO r FROM __P__records WHERE key = p_key FOR UPDATE;
    EXIT WHEN FOUND; -- else deleted meanwhile: insert again
  END LOOP;
  now_ := clock_timestamp(); -- FOR UPDATE may have waited
  IF r.expires_at <= now_ THEN -- expired: absent, whether or not Purge has reached it, whatever its format
    UPDATE __P__records SET version = p_version, state = 1, fingerprint = p_fp, token = nextval('__P__tokens'), nonce = p_nonce,
      committed = 0, lease_until = now_ + p_lease_ms * interval '1 ms', expires_at = now_ + p_ttl_ms * interval '1 ms',
      payload = NULL, sig = p_sig, commit_sig = NULL, waited = false
    WHERE key = p_key RETURNING token INTO t;
    RETURN QUERY SELECT 1, t, false, false, NULL::smallint, NULL::bytea, NULL::smallint,
      NULL::timestamptz, NULL::timestamptz, NULL::bytea, NULL::bytea, NULL::bytea;
    RETURN;
  END IF;
  IF r.version <> p_version OR r.state NOT IN (1, 2, 3, 4) THEN
    RAISE EXCEPTION 'idempg: record format version %, state %', r.version, r.state USING ERRCODE = 'IDV01';
  END IF;
  -- The claim's own Begin, resent (its nonce): the same claim again.
  IF r.state = 1 AND r.nonce = p_nonce AND r.fingerprint = p_fp THEN
    RETURN QUERY SELECT 1, r.token, false, false, NULL::smallint, NULL::bytea, NULL::smallint,
      NULL::timestamptz, NULL::timestamptz, NULL::bytea, NULL::bytea, NULL::bytea;
    RETURN;
  END IF;
  IF r.state = 1 AND r.committed = 1 AND r.lease_until <= now_ THEN
    -- Stranded: the owner died after declaring effects. The record turns
    -- uncertain and keeps token, fingerprint, expiry and signatures.
    UPDATE __P__records SET state = 4, payload = '__STRANDED__', lease_until = NULL, committed = 2, nonce = p_nonce
    WHERE key = p_key RETURNING * INTO r;
    strand := true;
  ELSIF r.state = 4 AND r.committed = 2 AND r.nonce = p_nonce THEN
    strand := true; -- the stranding Begin, resent
  END IF;
  IF r.fingerprint <> p_fp OR r.state <> 1 THEN
    RETURN QUERY SELECT CASE WHEN r.fingerprint = p_fp THEN 2 ELSE 3 END, r.token, false, strand,
      r.state, r.fingerprint, r.committed, r.lease_until, r.expires_at, r.payload,
      CASE WHEN r.state = 1 OR r.committed = 2 THEN r.sig END,
      CASE WHEN r.state = 1 AND r.committed = 1 OR r.state = 4 AND r.committed = 2 THEN r.commit_sig END;
    RETURN;
  END IF;
  IF r.lease_until > now_ THEN -- a live claim: mark it waited on, so that its end is NOTIFYed
    IF NOT r.waited THEN
      UPDATE __P__records SET waited = true WHERE key = p_key;
    END IF;
    RETURN QUERY SELECT 4, r.token, false, false, r.state, r.fingerprint, r.committed, r.lease_until,
      r.expires_at, r.payload, r.sig, CASE WHEN r.committed = 1 THEN r.commit_sig END;
    RETURN;
  END IF;
  -- Takeover of an expired, uncommitted claim (waited stays: the same
  -- duplicates wait for the new owner).
  UPDATE __P__records SET token = nextval('__P__tokens'), nonce = p_nonce,
    lease_until = now_ + p_lease_ms * interval '1 ms', expires_at = now_ + p_ttl_ms * interval '1 ms',
    sig = p_sig, commit_sig = NULL, committed = 0
  WHERE key = p_key RETURNING token INTO t;
  RETURN QUERY SELECT 1, t, true, false, NULL::smallint, NULL::bytea, NULL::smallint,
    NULL::timestamptz, NULL::timestamptz, NULL::bytea, NULL::bytea, NULL::bytea;
END
$fn$;

-- __P__complete: core.Store.Complete. Returns 1 when it wrote the final
-- record, 2 when a final record was already written with the token (a
-- resent Complete: left as it is), 0 when the claim is lost. The uncertain
-- record Begin made of the token's stranded claim is replaced by a
-- completed record or a tombstone: the claim's only run has finished
-- after all. The row lock it takes is held to the end of the transaction:
-- inside a handler's transaction (ClaimTx), the fence, the business writes
-- and the record commit together.
CREATE OR REPLACE FUNCTION __P__complete(p_key bytea, p_token bigint, p_state smallint, p_payload bytea,
    p_ttl_ms bigint, p_version int, p_channel text)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  r __P__records%ROWTYPE;
BEGIN
  SELECT * INTO r FROM __P__records WHERE key = p_key FOR UPDATE;
  IF NOT FOUND OR r.token <> p_token OR p_token = 0 OR r.version <> p_version OR r.expires_at <= clock_timestamp() THEN
    RETURN 0;
  END IF;
  IF r.state <> 1 THEN
    IF r.state NOT IN (2, 3, 4) THEN
      RETURN 0;
    END IF;
    IF r.state <> 4 OR r.committed <> 2 OR p_state = 4 THEN
      RETURN 2;
    END IF;
  END IF;
  UPDATE __P__records SET state = p_state, payload = p_payload, lease_until = NULL, committed = 0,
    expires_at = clock_timestamp() + p_ttl_ms * interval '1 ms'
  WHERE key = p_key;
  IF r.waited AND octet_length(p_key) < 3900 THEN -- hex; NOTIFY payloads stop at 8000 bytes
    PERFORM pg_notify(p_channel, encode(p_key, 'hex'));
  END IF;
  RETURN 1;
END
$fn$;

-- __P__release: core.Store.Release. Returns 1 when it deleted the claim,
-- 2 when there is no record (a resent Release, or a claim that expired), 0
-- when another token holds the record or it is final.
CREATE OR REPLACE FUNCTION __P__release(p_key bytea, p_token bigint, p_version int, p_channel text)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  r __P__records%ROWTYPE;
BEGIN
  SELECT * INTO r FROM __P__records WHERE key = p_key FOR UPDATE;
  IF NOT FOUND OR r.expires_at <= clock_timestamp() THEN
    RETURN 2;
  END IF;
  IF r.token <> p_token OR r.state <> 1 OR r.version <> p_version THEN
    RETURN 0;
  END IF;
  DELETE FROM __P__records WHERE key = p_key;
  IF r.waited AND octet_length(p_key) < 3900 THEN
    PERFORM pg_notify(p_channel, encode(p_key, 'hex'));
  END IF;
  RETURN 1;
END
$fn$;

-- __P__resolve: core.Store.Resolve. p_payload NULL deletes. Returns 1
-- when it resolved the record, 0 when there is none, -1 when it is not
-- resolvable (a live or uncommitted claim, a completed record), -2 for a
-- record of an unknown format. A completed record gets token 0, which no
-- claim holds, so that the former owner's late Complete is fenced off.
CREATE OR REPLACE FUNCTION __P__resolve(p_key bytea, p_payload bytea, p_ttl_ms bigint, p_version int)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  r __P__records%ROWTYPE;
BEGIN
  SELECT * INTO r FROM __P__records WHERE key = p_key FOR UPDATE;
  IF NOT FOUND OR r.expires_at <= clock_timestamp() THEN
    RETURN 0;
  END IF;
  IF r.version <> p_version OR r.state NOT IN (1, 2, 3, 4) THEN
    RETURN -2;
  END IF;
  IF r.state = 1 AND r.committed = 1 THEN
    IF r.lease_until > clock_timestamp() THEN
      RETURN -1;
    END IF;
  ELSIF r.state NOT IN (3, 4) THEN
    RETURN -1;
  END IF;
  IF p_payload IS NULL THEN
    DELETE FROM __P__records WHERE key = p_key;
    RETURN 1;
  END IF;
  UPDATE __P__records SET state = 2, payload = p_payload, lease_until = NULL, token = 0, committed = 0,
    expires_at = clock_timestamp() + p_ttl_ms * interval '1 ms'
  WHERE key = p_key;
  RETURN 1;
END
$fn$;
