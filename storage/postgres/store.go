package idempg

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
)

var (
	_ core.Store        = (*Store)(nil)
	_ core.BatchRenewer = (*Store)(nil)
	_ core.Cooldowns    = (*Store)(nil)
)

// FormatVersion is stored in every record (column version). A record
// written with a version this code does not know is never replayed or
// overwritten: the request fails closed until the record expires.
const FormatVersion = 1

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	renew   *pgxpool.Pool // pool unless WithRenewPool
	prefix  string
	channel string // NOTIFY channel of ended claims
	q       queries
	notify  notifier

	closeOnce sync.Once
	stop      chan struct{} // closed by Close: ends the purger
	done      sync.WaitGroup
}

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

// New returns a Store on pool, whose tables Migrate has created with the
// same WithTablePrefix. It does no I/O (unless WithPurgeInterval starts
// the purger, which runs in the background). Close stops the purger and
// the LISTEN connection of Watch; the pool belongs to the caller.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	c := config{prefix: DefaultTablePrefix}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, fmt.Errorf("%w: idempg: nil pool", core.ErrInvalidOption)
	}
	s := &Store{pool: pool, renew: pool, prefix: c.prefix, channel: c.prefix + "ended",
		q: newQueries(c.prefix), stop: make(chan struct{})}
	if c.renew != nil {
		s.renew = c.renew
	}
	if c.purgeEvery > 0 {
		s.done.Add(1)
		go s.purger(c.purgeEvery, c.purgeBatch)
	}
	return s, nil
}

// Close stops the background purger (WithPurgeInterval) and ends Watch's
// LISTEN connection; later Watch calls fail (the Engine polls). It does
// not close the pools, which belong to the caller.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	s.notify.close()
	s.done.Wait()
	return nil
}

// unavailable wraps a database failure as core.ErrStoreUnavailable.
func unavailable(err error) error {
	return fmt.Errorf("%w: postgres: %w", core.ErrStoreUnavailable, err)
}

// beginErr maps Begin's failures: IDV01, raised by the begin function for
// a record of a format this code does not know, is core.ErrCorruptRecord
// (never absence, never an outage to fail open on).
func beginErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "IDV01" {
		return fmt.Errorf("%w: %w: %s", core.ErrStoreUnavailable, core.ErrCorruptRecord, pe.Message)
	}
	return unavailable(err)
}

// orNull turns an empty signature into SQL NULL: none.
func orNull(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ms is d in whole milliseconds, at least 1 for a positive d.
func ms(d time.Duration) int64 {
	m := d.Milliseconds()
	if m == 0 && d > 0 {
		m = 1
	}
	return m
}

// Begin implements core.Store in one round trip (one statement, the begin
// function; pgx prepares it once per connection). A Begin resent with the
// attempt's nonce gets its own claim back. An attempt without a nonce
// gets a random one. a.Sig is stored with the claim and answered as
// Record.Sig for claims and stranded records.
func (s *Store) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	nonce := a.Nonce
	if nonce == 0 {
		nonce = rand.Uint64() | 1
	}
	var (
		outcome            int32
		tok                pgtype.Int8
		tookOver, stranded pgtype.Bool
		st, com            pgtype.Int2
		fp, pay, sig, csig []byte
		lease, expires     pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, s.q.begin, []byte(key), a.Fingerprint[:], ms(a.Lease), ms(a.TTL), int64(nonce), orNull(a.Sig), FormatVersion).
		Scan(&outcome, &tok, &tookOver, &stranded, &st, &fp, &com, &lease, &expires, &pay, &sig, &csig)
	if err != nil {
		return core.BeginResult{}, beginErr(err)
	}
	if outcome == 1 {
		return core.BeginResult{Outcome: core.OutcomeOriginal, Token: uint64(tok.Int64), TookOver: tookOver.Bool}, nil
	}
	state := core.State(st.Int16)
	rec := core.Record{State: state, Token: uint64(tok.Int64), Sig: orNull(sig), CommitSig: orNull(csig)}
	if len(fp) != len(rec.Fingerprint) || !state.Final() && state != core.StateInFlight {
		return core.BeginResult{}, fmt.Errorf("%w: %w: state %d, fingerprint of %d bytes", core.ErrStoreUnavailable, core.ErrCorruptRecord, st.Int16, len(fp))
	}
	copy(rec.Fingerprint[:], fp)
	if state == core.StateInFlight {
		rec.Committed = com.Int16 == 1
		rec.LeaseUntil = lease.Time
	} else {
		rec.Payload = pay
	}
	rec.ExpiresAt = expires.Time
	res := core.BeginResult{Record: rec, Stranded: stranded.Bool}
	switch outcome {
	case 2:
		res.Outcome = finalOutcome[state]
	case 3:
		res.Outcome = core.OutcomeMismatch
	case 4:
		res.Outcome = core.OutcomeConflict
	default:
		return core.BeginResult{}, unavailable(fmt.Errorf("unexpected begin outcome %d", outcome))
	}
	return res, nil
}

// finalOutcome is Begin's answer for a final record of the attempt's
// fingerprint.
var finalOutcome = map[core.State]core.Outcome{
	core.StateCompleted: core.OutcomeRepeated,
	core.StateTombstone: core.OutcomeUnavailable,
	core.StateUncertain: core.OutcomeUncertain,
}

// execFenced runs a fenced UPDATE: no row is core.ErrLeaseLost.
func execFenced(ctx context.Context, db *pgxpool.Pool, sql string, args ...any) error {
	tag, err := db.Exec(ctx, sql, args...)
	if err != nil {
		return unavailable(err)
	}
	if tag.RowsAffected() == 0 {
		return core.ErrLeaseLost
	}
	return nil
}

// Renew implements core.Store, on the renewal pool (WithRenewPool).
func (s *Store) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	return execFenced(ctx, s.renew, s.q.renew, []byte(key), int64(token), ms(lease), FormatVersion)
}

// RenewBatch implements core.BatchRenewer: every claim of rs is renewed by
// one statement (one round trip), on the renewal pool (WithRenewPool).
func (s *Store) RenewBatch(ctx context.Context, lease time.Duration, rs []core.Renewal) {
	if len(rs) == 0 {
		return
	}
	keys, toks := make([][]byte, len(rs)), make([]int64, len(rs))
	for i, r := range rs {
		keys[i], toks[i] = []byte(r.Key), int64(r.Token)
	}
	type claim struct {
		key string
		tok int64
	}
	renewed := make(map[claim]bool, len(rs))
	rows, err := s.renew.Query(ctx, s.q.renewBatch, keys, toks, ms(lease), FormatVersion)
	if err == nil {
		var k []byte
		var tok int64
		_, err = pgx.ForEachRow(rows, []any{&k, &tok}, func() error {
			renewed[claim{string(k), tok}] = true
			return nil
		})
	}
	for i := range rs {
		switch {
		case err != nil:
			rs[i].Err = unavailable(err)
		case renewed[claim{rs[i].Key, toks[i]}]:
			rs[i].Err = nil
		default:
			rs[i].Err = core.ErrLeaseLost
		}
	}
}

// Commit implements core.Store in one round trip. Committing a claim
// already committed with token (a resent Commit) succeeds. sig is kept
// with the claim and answered as Record.CommitSig for a committed claim
// and a stranded record; a Commit without one leaves a signed commitment
// as it is.
func (s *Store) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	return execFenced(ctx, s.pool, s.q.commit, []byte(key), int64(token), orNull(sig), FormatVersion)
}

// Complete implements core.Store in one round trip. Completing a record
// already final with token (a resent Complete) succeeds and leaves it as
// it is, except that a completed record or a tombstone replaces the
// uncertain record Begin made of the token's stranded claim.
func (s *Store) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if !state.Final() {
		return fmt.Errorf("idempg: Complete with state %v, want completed, tombstone or uncertain", state)
	}
	var n int32
	if err := s.pool.QueryRow(ctx, s.q.complete, []byte(key), int64(token), int16(state), payload, ms(ttl), FormatVersion, s.channel).Scan(&n); err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return core.ErrLeaseLost
	}
	return nil
}

// Release implements core.Store in one round trip. Releasing an absent
// record (a resent Release, or a claim that expired) succeeds.
func (s *Store) Release(ctx context.Context, key string, token uint64) error {
	var n int32
	if err := s.pool.QueryRow(ctx, s.q.release, []byte(key), int64(token), FormatVersion, s.channel).Scan(&n); err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return core.ErrLeaseLost
	}
	return nil
}

// Resolve implements core.Store in one round trip. A committed claim's
// lease is judged by the database server's clock. A record Resolve
// completes keeps its fingerprint but gets token 0, which no claim holds:
// the claim's owner, should it still run, is fenced off.
func (s *Store) Resolve(ctx context.Context, key string, payload []byte, ttl time.Duration) error {
	if payload != nil && ttl < time.Millisecond {
		return fmt.Errorf("idempg: Resolve with ttl %v, want at least 1ms", ttl)
	}
	var n int32
	if err := s.pool.QueryRow(ctx, s.q.resolve, []byte(key), payload, ms(ttl), FormatVersion).Scan(&n); err != nil {
		return unavailable(err)
	}
	switch n {
	case 1:
		return nil
	case 0:
		return core.ErrNotFound
	case -1:
		return core.ErrNotResolvable
	case -2:
		return fmt.Errorf("%w: %w: record of an unknown format", core.ErrNotResolvable, core.ErrCorruptRecord)
	}
	return unavailable(fmt.Errorf("unexpected resolve answer %d", n))
}

// Get implements core.Store. An expired record is absent (ErrNotFound),
// whether or not Purge has deleted it yet.
func (s *Store) Get(ctx context.Context, key string) (core.Record, error) {
	var (
		version, st, com   int16
		fp, pay, sig, csig []byte
		tok                int64
		lease              pgtype.Timestamptz
		expires            time.Time
	)
	err := s.pool.QueryRow(ctx, s.q.get, []byte(key)).Scan(&version, &st, &fp, &tok, &com, &lease, &expires, &pay, &sig, &csig)
	if errors.Is(err, pgx.ErrNoRows) {
		return core.Record{}, core.ErrNotFound
	}
	if err != nil {
		return core.Record{}, unavailable(err)
	}
	state := core.State(st)
	if version != FormatVersion || state < core.StateInFlight || state > core.StateUncertain || len(fp) != len(core.Fingerprint{}) {
		return core.Record{}, fmt.Errorf("%w: record format version %d, state %d", core.ErrCorruptRecord, version, st)
	}
	rec := core.Record{State: state, Token: uint64(tok), ExpiresAt: expires}
	copy(rec.Fingerprint[:], fp)
	stranded := state == core.StateUncertain && com == 2
	if state == core.StateInFlight {
		rec.Committed = com == 1
		rec.LeaseUntil = lease.Time
	} else {
		rec.Payload = pay
	}
	// The signatures belong to the claim: answered for a claim (the
	// commitment's only once committed) and for the uncertain record
	// Begin made of it.
	if state == core.StateInFlight || stranded {
		rec.Sig = orNull(sig)
	}
	if rec.Committed || stranded {
		rec.CommitSig = orNull(csig)
	}
	return rec, nil
}

// Delete implements core.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, s.q.del, []byte(key)); err != nil {
		return unavailable(err)
	}
	return nil
}

// AcquireCooldown implements core.Cooldowns: every instance on this
// database shares one alert cooldown per name.
func (s *Store) AcquireCooldown(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, s.q.cooldown, []byte(name), ms(ttl)).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, unavailable(err)
	}
	return ok, nil
}

// Ping checks that the database answers, e.g. for a readiness probe.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// Stats counts the store's records by state, for metrics and operators.
type Stats struct {
	InFlight, Completed, Tombstones, Uncertain int64
	// Expired records are absent to every call; Purge deletes them.
	Expired int64
}

// Stats counts the records of every state in one statement. It reads the
// whole table: call it for metrics every minute or so, not per request.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.pool.QueryRow(ctx, s.q.stats).Scan(&st.InFlight, &st.Completed, &st.Tombstones, &st.Uncertain, &st.Expired)
	if err != nil {
		return Stats{}, unavailable(err)
	}
	return st, nil
}
