package main

import (
	"errors"
	"fmt"
)

// Expect checks, beyond the double-run analysis, that every request of
// rep was answered as the server under test must answer it, so that a
// server that bypasses its middleware, or fails fast, cannot pass for a
// fast one. The end-to-end suite runs it after every measured run.
//
// bare is the -bare baseline (no idempotency middleware): every request
// answers 201 without Idempotency-Status and runs the handler, so the
// executions equal the requests. Otherwise: mode first and the replay
// warm-up answer 201 Original, replays 201 Repeated, and the executions
// equal the Originals (one per key, none for a replay).
//
// It needs the execution counters (Config.NoStats false).
func Expect(rep *Report, bare bool) error {
	if rep.Executions == nil {
		return errors.New("no execution counters (-no-stats)")
	}
	var errs []error
	if rep.Errors > 0 {
		errs = append(errs, fmt.Errorf("%d requests without an answer", rep.Errors))
	}
	var runs int64 // executions the answers account for
	for _, p := range rep.Phases {
		if n := p.Status["201"]; n != p.Requests {
			errs = append(errs, fmt.Errorf("phase %s: %d of %d requests answered 201 (status %s)", p.Name, n, p.Requests, counts(p.Status)))
		}
		want := "none"
		switch {
		case bare:
			runs += int64(p.Requests)
		case p.Name == ModeReplay:
			want = "Repeated"
		default: // first, warm (and mixed is not a suite mode)
			want = "Original"
			runs += int64(p.Requests)
		}
		if n := p.Idempotent[want]; n != p.Requests {
			errs = append(errs, fmt.Errorf("phase %s: %d of %d requests with Idempotency-Status %s (got %s)",
				p.Name, n, p.Requests, want, counts(p.Idempotent)))
		}
	}
	if d := rep.Executions.Delta; d != runs {
		errs = append(errs, fmt.Errorf("%d handler executions, want %d", d, runs))
	}
	if !bare && !rep.OK {
		errs = append(errs, fmt.Errorf("double executions: %+v", rep.DoubleRuns))
	}
	return errors.Join(errs...)
}
