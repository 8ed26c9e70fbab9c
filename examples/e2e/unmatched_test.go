package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemkit/idempotency/examples/internal/servertest"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// idemkitPrefix starts the name of every metric of telemetry/prometheus
// (its default namespace, "idempotency"); the Go runtime, process and
// promhttp series on the same page are not idemkit's.
const idemkitPrefix = "idempotency_"

// TestUnmatchedRoutesPassThrough: a request that matches no route passes
// through untouched (SPEC §3, step 5). On each server (in-memory store),
// 1,000 POSTs to distinct unmatched paths (16 at a time), a third with a
// valid Idempotency-Key, a third with none and a third with an invalid
// one, all get the framework's own 404, with an X-Request-Id but no
// Idempotency-Status and no problem+json; no handler runs; and the
// idemkit series of GET /metrics are byte for byte what they were before
// (no series per raw path).
//
// The example servers attach the idempotency middleware to each route,
// so an unmatched path reaches it only if a server mounts it with Use
// (or a Fiber Group); then this checks the adapters' own pass-through.
func TestUnmatchedRoutesPassThrough(t *testing.T) {
	t.Parallel()
	// The framework's own 404 body for path (fiberapp.ErrorHandler keeps
	// Fiber's default message).
	notFound := map[string]func(path string) string{
		"gin":    func(string) string { return "404 page not found" },
		"echo":   func(string) string { return "{\"message\":\"Not Found\"}\n" },
		"echov5": func(string) string { return "{\"message\":\"Not Found\"}\n" },
		"fiber":  func(path string) string { return "Cannot POST " + path },
	}
	for _, name := range []string{"gin", "echo", "echov5", "fiber"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, name)
			client := &http.Client{
				Timeout:   10 * time.Second,
				Transport: &http.Transport{MaxIdleConnsPerHost: unmatchedWorkers},
			}
			defer client.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			// One payment first, so that the idemkit series exist and the
			// comparison below has something to compare.
			if r, err := servertest.Pay(ctx, client, srv.Base, "/payments", servertest.NewKey()); err != nil || r.Status != http.StatusCreated {
				t.Fatalf("first payment: %v, %v", r, err)
			}
			before := idemkitMetrics(t, client, srv)
			if !strings.Contains(before, idemkitPrefix+"requests_total{") {
				t.Fatalf("GET /metrics has no %srequests_total series after a payment:\n%s", idemkitPrefix, before)
			}
			stats := srv.MustStats(t)

			replies := make([]servertest.Reply, unmatchedRequests)
			errs := make([]error, unmatchedRequests)
			jobs := make(chan int)
			var wg sync.WaitGroup
			for range unmatchedWorkers {
				wg.Go(func() {
					for i := range jobs {
						replies[i], errs[i] = servertest.Pay(ctx, client, srv.Base, unmatchedPath(i), unmatchedKey(i))
					}
				})
			}
			for i := range unmatchedRequests {
				jobs <- i
			}
			close(jobs)
			wg.Wait()

			// Group the deviations so that 1,000 of one kind read as one line.
			deviations := map[string][]int{}
			for i, r := range replies {
				var why []string
				if errs[i] != nil {
					why = append(why, "request failed: "+errs[i].Error())
				} else {
					if r.Status != http.StatusNotFound {
						why = append(why, fmt.Sprintf("status %d", r.Status))
					}
					if r.Idem() != "" {
						why = append(why, fmt.Sprintf("Idempotency-Status %q", r.Idem()))
					}
					if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/problem+json") {
						why = append(why, "a problem+json answer: "+r.Body)
					} else if want := notFound[name](unmatchedPath(i)); r.Body != want {
						why = append(why, fmt.Sprintf("body %q, want %s's own %q", r.Body, name, want))
					}
					if r.Header.Get(shop.RequestIDHeader) == "" {
						why = append(why, "no X-Request-Id")
					}
				}
				if len(why) > 0 {
					k := unmatchedKind(i) + ": " + strings.Join(why, "; ")
					deviations[k] = append(deviations[k], i)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(deviations)) {
				is := deviations[k]
				t.Errorf("%d of %d requests (e.g. POST %s): %s", len(is), unmatchedRequests, unmatchedPath(is[0]), k)
			}

			if after := srv.MustStats(t); after != stats {
				t.Errorf("handlers ran for unmatched routes: stats %+v, then %+v", stats, after)
			}
			after := idemkitMetrics(t, client, srv)
			if after != before {
				t.Errorf("the idemkit series of GET /metrics changed:\n%s", lineDiff(before, after))
			}
		})
	}
}

const (
	unmatchedRequests = 1000
	unmatchedWorkers  = 16
)

// unmatchedPath is the i-th unmatched path: /nope/<i>, or, for every
// other i, /payments/<i>, under a route that exists (POST /payments) but
// matches no route either.
func unmatchedPath(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("/nope/%d", i)
	}
	return fmt.Sprintf("/payments/%d", i)
}

// unmatchedKey is the Idempotency-Key of the i-th request: a fresh valid
// UUID, none, or an invalid one, in turn.
func unmatchedKey(i int) string {
	switch i % 3 {
	case 0:
		return servertest.NewKey()
	case 1:
		return ""
	default:
		return "not-a-uuid"
	}
}

func unmatchedKind(i int) string {
	return [...]string{"valid key", "no key", "invalid key"}[i%3]
}

// idemkitMetrics returns the lines of srv's GET /metrics that belong to
// idemkit's metrics (samples and their # HELP and # TYPE lines), in the
// page's order.
func idemkitMetrics(t *testing.T, c *http.Client, srv *servertest.Server) string {
	t.Helper()
	resp, err := c.Get(srv.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	var out strings.Builder
	for line := range strings.Lines(string(b)) {
		name := line
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name = rest
		} else if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name = rest
		}
		if strings.HasPrefix(name, idemkitPrefix) {
			out.WriteString(line)
		}
	}
	return out.String()
}

// lineDiff lists the lines only in a (-) and only in b (+), at most
// maxDiffLines of them.
func lineDiff(a, b string) string {
	inA, inB := map[string]bool{}, map[string]bool{}
	for l := range strings.Lines(a) {
		inA[l] = true
	}
	for l := range strings.Lines(b) {
		inB[l] = true
	}
	var lines []string
	for l := range strings.Lines(a) {
		if !inB[l] {
			lines = append(lines, "  - "+l)
		}
	}
	for l := range strings.Lines(b) {
		if !inA[l] {
			lines = append(lines, "  + "+l)
		}
	}
	if len(lines) > maxDiffLines {
		lines = append(lines[:maxDiffLines], fmt.Sprintf("  ... and %d more lines\n", len(lines)-maxDiffLines))
	}
	return strings.Join(lines, "")
}

const maxDiffLines = 20
