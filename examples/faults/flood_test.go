package faults

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/examples/internal/servertest"
)

// TestMemoryStoreFlood: each server (Gin, Echo, Fiber) runs on an
// in-memory store bounded to 200 records (-memory-max-entries) and is
// flooded with unique keys (at least 1,500, until each of six hot keys
// has had six bursts of four concurrent duplicates). The store must evict completed records to
// make room (RECORD_EVICTED in /metrics and the log), and:
//
//   - every request is answered 201, Original or Repeated;
//   - a live claim is never evicted: a hot key's payment takes 300ms
//     (delay), so two runs of one key never overlap; they are at least
//     the delay apart;
//   - every Repeated is the bytes of one of its key's Originals, sent
//     before it;
//   - a key runs again only after a record was evicted: the re-runs are
//     at most the records the store reports evicted;
//   - the handler ran exactly once per Original;
//   - the process stays up.
func TestMemoryStoreFlood(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gin", "echo", "fiber"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, name, "-memory-max-entries", "200", "-memory-max-bytes", "262144")
			c := newClient(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			l := newLedger()
			l.anyEpoch = true
			// Epochs are send order: a Repeated replays an Original sent
			// before it, and check never counts two Originals of a key
			// as one epoch's (re-runs are checked below).
			var seq atomic.Int64
			hot := make([]string, 6)
			for i := range hot {
				hot[i] = l.newKey()
			}
			var wg sync.WaitGroup
			for _, k := range hot {
				wg.Go(func() {
					for range 6 {
						var bw sync.WaitGroup
						for range 4 {
							bw.Go(func() { l.payIn(ctx, c, srv, hotPath, k, int(seq.Add(1))) })
						}
						bw.Wait()
						time.Sleep(30 * time.Millisecond)
					}
				})
			}
			hotDone := make(chan struct{})
			go func() { wg.Wait(); close(hotDone) }()
			const minFlood, maxFlood, workers = 1500, 6000, 3
			var next atomic.Int64
			var fw sync.WaitGroup
			for range workers {
				fw.Go(func() {
					for n := next.Add(1); n <= maxFlood; n = next.Add(1) {
						if n > minFlood {
							select {
							case <-hotDone:
								return
							default:
							}
						}
						l.payIn(ctx, c, srv, "/payments", l.newKey(), int(seq.Add(1)))
						time.Sleep(2 * time.Millisecond) // a flood, not a CPU hog
					}
				})
			}
			fw.Wait()
			<-hotDone

			tl := l.check(t, "201 Original", "201 Repeated")
			var reruns int
			for k, byEpoch := range tl.original {
				if n := len(byEpoch); n > 1 {
					reruns += n - 1
					t.Logf("key %s ran %d times (its record was evicted in between)", k, n)
				}
			}
			for _, k := range hot {
				var prev time.Time
				for _, o := range l.outcomes() { // in the order they were answered
					if o.key != k || o.err != nil || replyLabel(o.r) != "201 Original" {
						continue
					}
					if !prev.IsZero() && o.recv.Sub(prev) < hotDelay-50*time.Millisecond {
						t.Errorf("key %s: two runs %v apart, under the handler's %v: they overlapped, a live claim was lost",
							k, o.recv.Sub(prev), hotDelay)
					}
					prev = o.recv
				}
			}
			evicted := evictedRecords(srv.Log.String())
			t.Logf("%d requests: %v; %d records evicted, %d re-runs", len(l.outcomes()), tl, evicted, reruns)
			if evicted == 0 {
				t.Errorf("no record was evicted: the flood did not reach the bound")
			}
			if reruns > evicted {
				t.Errorf("%d re-runs of keys, but only %d records were evicted: a key ran twice while its record lived", reruns, evicted)
			}
			account(t, tl, srv.MustStats(t).Payments)
			metrics, err := srv.Metrics(c)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(metrics, `idempotency_events_total{event="RECORD_EVICTED"}`) {
				t.Errorf("GET /metrics has no RECORD_EVICTED count")
			}
			if srv.Exited() {
				t.Fatalf("%s exited: %v\n%s", name, srv.Err(), srv.Log)
			}
		})
	}
}

// hotDelay is how long a hot key's payment runs.
const (
	hotDelay = 300 * time.Millisecond
	hotPath  = "/payments?delay=300ms"
)

var evictedLine = regexp.MustCompile(`event=RECORD_EVICTED.*?\bhits=(\d+)`)

// evictedRecords sums the records the RECORD_EVICTED events of a
// server's log report (each event counts the records one claim evicted).
func evictedRecords(log string) int {
	var n int
	for _, m := range evictedLine.FindAllStringSubmatch(log, -1) {
		h, _ := strconv.Atoi(m[1])
		n += h
	}
	return n
}
