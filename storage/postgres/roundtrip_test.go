package idempg_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
)

// countingConn counts the client's writes to the server: pgx sends each
// query's messages (Bind, Execute, Sync) in one write and then waits for
// the answer, so a write is a round trip.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestRoundTrips: a first request costs two round trips (Begin, Complete),
// a replay one (Begin), a duplicate in flight one. Counted on one warm
// connection: pgx prepares each statement once per connection, which
// costs one more round trip the first time.
func TestRoundTrips(t *testing.T) {
	var writes atomic.Int64
	pool := newPool(t, func(c *pgxpool.Config) {
		c.MaxConns, c.MinConns = 1, 0
		d := &net.Dialer{}
		c.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, &writes}, nil
		}
	})
	st := newStore(t, pool)
	ctx := ctxT(t)
	trips := func(f func()) int64 {
		n := writes.Load()
		f()
		return writes.Load() - n
	}
	cycle := func(k string) (claimN, completeN, dupN, replayN int64) {
		t.Helper()
		var c core.BeginResult
		claimN = trips(func() { c = claim(t, st, k, time.Minute) })
		if c.Outcome != core.OutcomeOriginal {
			t.Fatalf("outcome %v", c.Outcome)
		}
		dupN = trips(func() {
			if res := claim(t, st, k, time.Minute); res.Outcome != core.OutcomeConflict {
				t.Fatalf("duplicate = %v", res.Outcome)
			}
		})
		completeN = trips(func() {
			if err := st.Complete(ctx, k, c.Token, core.StateCompleted, []byte("r"), time.Minute); err != nil {
				t.Fatal(err)
			}
		})
		replayN = trips(func() {
			if res := claim(t, st, k, time.Minute); res.Outcome != core.OutcomeRepeated {
				t.Fatalf("replay = %v", res.Outcome)
			}
		})
		return
	}
	cycle(testKey(t)) // warm up: prepares the statements
	b, c, d, r := cycle(testKey(t))
	if b+c != 2 || b != 1 || d != 1 || r != 1 {
		t.Fatalf("round trips: Begin %d + Complete %d, duplicate %d, replay %d; want 1 + 1, 1, 1", b, c, d, r)
	}
}
