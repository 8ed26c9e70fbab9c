package idempg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
// as it is. Like renewals it goes through the renewal pool
// (WithRenewPool): a handler calls it (core.DeclareEffects) while it may
// hold one of the store's connections in its claim's transaction, so with
// every connection so held it would wait for one only a finished handler
// frees.
func (s *Store) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	return execFenced(ctx, s.renew, s.q.commit, []byte(key), int64(token), orNull(sig), FormatVersion)
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
