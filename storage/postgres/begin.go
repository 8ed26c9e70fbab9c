package idempg

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/idemkit/idempotency/core"
)

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
