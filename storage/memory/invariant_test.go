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
		if got := len(sh.live) + len(sh.done); got != len(sh.m) {
			t.Errorf("shard %d: %d records in heaps, %d in the map", i, got, len(sh.m))
		}
		for k, e := range sh.m {
			if e.key != k {
				t.Errorf("shard %d: entry %q under key %q", i, e.key, k)
			}
			h := sh.live
			if e.state == core.StateCompleted {
				h = sh.done
			}
			if int(e.idx) >= len(h) || h[e.idx].e != e || h[e.idx].at != e.deadline() {
				t.Errorf("shard %d: entry %q misplaced in its heap", i, k)
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
		for _, h := range []heap{sh.live, sh.done} {
			for j := 1; j < len(h); j++ {
				if h[(j-1)/4].at > h[j].at {
					t.Errorf("shard %d: heap order broken at %d", i, j)
				}
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
