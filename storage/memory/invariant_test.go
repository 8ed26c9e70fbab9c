package memory

import (
	"testing"

	"github.com/idemkit/idempotency/core"
)

// CheckInvariants verifies, on a quiescent store, that the counters match
// the records, that every record is in the right heap at the right place,
// and that hint is at most every deadline.
func CheckInvariants(t testing.TB, s *Store) {
	t.Helper()
	var entries, bytes int64
	hint := s.hint.Load()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if got := len(sh.live) + sh.done.n; got != len(sh.m) {
			t.Errorf("shard %d: %d records in the heap and lists, %d in the map", i, got, len(sh.m))
		}
		listed := 0
		for j := range sh.done.qs {
			q := &sh.done.qs[j]
			n := 0
			var prev *entry
			for e := q.head; e != nil; prev, e = e, e.next {
				if e.prev != prev || int(e.idx) != j || !e.state.Final() || sh.m[e.key] != e {
					t.Errorf("shard %d: done list %d broken at %q", i, j, e.key)
				}
				if prev != nil && prev.exp > e.exp {
					t.Errorf("shard %d: done list %d out of expiry order at %q", i, j, e.key)
				}
				n++
			}
			if q.tail != prev || q.n != n {
				t.Errorf("shard %d: done list %d: tail or count wrong (%d, %d listed)", i, j, q.n, n)
			}
			listed += n
		}
		if listed != sh.done.n {
			t.Errorf("shard %d: %d records listed, count %d", i, listed, sh.done.n)
		}
		for k, e := range sh.m {
			if e.key != k {
				t.Errorf("shard %d: entry %q under key %q", i, e.key, k)
			}
			if e.committed && e.state != core.StateInFlight || e.stranded && e.state != core.StateUncertain {
				t.Errorf("shard %d: entry %q is %v, committed %v, stranded %v", i, k, e.state, e.committed, e.stranded)
			}
			// A claim's or stranded record's payload field holds the claim's
			// signature: never an empty non-nil one, which Record.Sig would
			// hand back as a signature.
			if e.payload != nil && len(e.payload) == 0 && (e.state == core.StateInFlight || e.stranded) {
				t.Errorf("shard %d: entry %q keeps an empty signature", i, k)
			}
			if e.state == core.StateInFlight {
				h := sh.live
				if int(e.idx) >= len(h) || h[e.idx].e != e || h[e.idx].at != e.deadline() {
					t.Errorf("shard %d: entry %q misplaced in the heap", i, k)
				}
			}
			if e.deadline() < hint {
				t.Errorf("shard %d: entry %q has deadline %d before hint %d", i, k, e.deadline(), hint)
			}
			if want := entrySize(k) + allocSize(cap(e.payload)); e.size != want {
				t.Errorf("shard %d: entry %q accounted %d bytes, want %d", i, k, e.size, want)
			}
			entries++
			bytes += e.size
		}
		for j := 1; j < len(sh.live); j++ {
			if sh.live[(j-1)/4].at > sh.live[j].at {
				t.Errorf("shard %d: heap order broken at %d", i, j)
			}
		}
		sh.mu.Unlock()
	}
	if got := s.entries.Load(); got != entries {
		t.Errorf("entries counter = %d, records = %d", got, entries)
	}
	if got := s.bytes.Load(); got != bytes {
		t.Errorf("bytes counter = %d, records hold %d", got, bytes)
	}
	if entries > s.cfg.maxEntries || bytes > s.cfg.maxBytes {
		t.Errorf("store holds %d records, %d bytes; bounds %d, %d", entries, bytes, s.cfg.maxEntries, s.cfg.maxBytes)
	}
}
