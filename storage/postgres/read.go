package idempg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/idemkit/idempotency/core"
)

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
