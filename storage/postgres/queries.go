package idempg

// queries are the store's statements, for its table prefix.
type queries struct {
	begin, complete, release, resolve, renew, renewBatch, commit, get, del, cooldown, purge, purgeCooldowns, stats string
}

func newQueries(p string) queries {
	recs := p + "records"
	return queries{
		begin:    `SELECT outcome, tok, took_over, stranded, st, fp, com, lease, expires, pay, sg, csg FROM ` + p + `begin($1, $2, $3, $4, $5, $6, $7)`,
		complete: `SELECT ` + p + `complete($1, $2, $3, $4, $5, $6, $7)`,
		release:  `SELECT ` + p + `release($1, $2, $3, $4)`,
		resolve:  `SELECT ` + p + `resolve($1, $2, $3, $4)`,
		// Renew keeps the record at least two leases from now (core.Attempt.TTL).
		renew: `UPDATE ` + recs + ` SET lease_until = clock_timestamp() + $3 * interval '1 ms',
  expires_at = greatest(expires_at, clock_timestamp() + 2 * $3 * interval '1 ms')
WHERE key = $1 AND token = $2 AND state = 1 AND version = $4 AND expires_at > clock_timestamp()`,
		renewBatch: `UPDATE ` + recs + ` AS r SET lease_until = clock_timestamp() + $3 * interval '1 ms',
  expires_at = greatest(r.expires_at, clock_timestamp() + 2 * $3 * interval '1 ms')
FROM unnest($1::bytea[], $2::bigint[]) AS b(k, t)
WHERE r.key = b.k AND r.token = b.t AND r.state = 1 AND r.version = $4 AND r.expires_at > clock_timestamp()
RETURNING r.key, r.token`,
		// An unsigned Commit (sig NULL) leaves a signed commitment as it is.
		commit: `UPDATE ` + recs + ` SET committed = 1, commit_sig = coalesce($3, commit_sig)
WHERE key = $1 AND token = $2 AND state = 1 AND version = $4 AND expires_at > clock_timestamp()`,
		get: `SELECT version, state, fingerprint, token, committed, lease_until, expires_at, payload, sig, commit_sig
FROM ` + recs + ` WHERE key = $1 AND expires_at > clock_timestamp()`,
		del: `DELETE FROM ` + recs + ` WHERE key = $1`,
		cooldown: `INSERT INTO ` + p + `cooldowns AS c (name, until) VALUES ($1, clock_timestamp() + $2 * interval '1 ms')
ON CONFLICT (name) DO UPDATE SET until = excluded.until WHERE c.until <= clock_timestamp()
RETURNING true`,
		// SKIP LOCKED: a row a Begin holds is left for the next pass; the
		// outer condition re-checks the newest version of each locked row.
		purge: `DELETE FROM ` + recs + ` WHERE key IN (
  SELECT key FROM ` + recs + ` WHERE expires_at <= clock_timestamp()
  ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
AND expires_at <= clock_timestamp()`,
		purgeCooldowns: `DELETE FROM ` + p + `cooldowns WHERE until <= clock_timestamp()`,
		stats: `SELECT count(*) FILTER (WHERE live AND state = 1), count(*) FILTER (WHERE live AND state = 2),
  count(*) FILTER (WHERE live AND state = 3), count(*) FILTER (WHERE live AND state = 4), count(*) FILTER (WHERE NOT live)
FROM (SELECT state, expires_at > clock_timestamp() AS live FROM ` + recs + `) r`,
	}
}
