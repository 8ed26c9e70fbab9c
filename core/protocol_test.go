package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

// TestProtocol runs the rows of protocolCases (protocol_steps_test.go),
// one per decision of SPEC §3, each a sequence of requests through one
// Engine and a fake exchange: no framework, no HTTP, no sleeping. The
// adapter suite (core/coretest) checks the same contract in depth through
// real servers; these rows pin the Engine's own decisions, and that every
// answered request is measured exactly once.
func TestProtocol(t *testing.T) {
	for _, pc := range protocolCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			p := newProtoEnv(t, pc)
			for i, s := range pc.steps {
				p.run(t, i, s)
			}
		})
	}
}

// protoCase is one row: options for a fresh Engine, and its requests.
type protoCase struct {
	name string
	opts []core.Option
	// store wraps the row's switchable store (coretest.FlakyStore over
	// the memory store), for rows that need a store misbehaving always.
	store func(core.Store) core.Store
	steps []step
}

// step is one request and what it must get.
type step struct {
	before func(p *protoEnv) // e.g. take the store down
	x      *fakeExchange
	// during runs while x's handler runs, before it writes: requests that
	// meet x's claim in flight.
	during []step
	want   want
}

// want is what a request gets, seen from the client, the Engine's calls
// on the exchange, and telemetry.
type want struct {
	status  int              // status the client got; 0 when nothing was written
	idem    string           // Idempotency-Status header; "" when none
	problem core.ProblemKind // an RFC 9457 problem answered, or ""
	ran     bool             // the handler ran (exactly once)
	passed  bool             // Exchange.Pass ran: no idempotency at all
	outcome core.Outcome     // the one Measurement's outcome; "" for none
	err     error            // Serve's error (errors.Is), when one is expected
	panics  bool             // Serve panicked (the handler's panic, kept going)
	// measured overrides the Measurement's expected Status (see
	// measuredStatus) when set.
	measured *int
	checks   []func(t *testing.T, x *fakeExchange)
}

// original: the request claimed the key and its handler answered status.
func original(status int) want {
	return want{status: status, idem: "Original", ran: true, outcome: core.OutcomeOriginal}
}

// repeated: the stored response was replayed; the handler did not run.
func repeated(status int) want {
	return want{status: status, idem: "Repeated", outcome: core.OutcomeRepeated}
}

// refused: a problem answered instead of running the handler.
func refused(status int, kind core.ProblemKind, o core.Outcome) want {
	return want{status: status, problem: kind, outcome: o}
}

// untouched: step 1, the request passed as if there were no middleware:
// nothing set, nothing measured.
func untouched(status int) want { return want{status: status, ran: true, passed: true} }

// bypassed: the request ran without idempotency (optional route without
// a key, fail-open), and that was measured.
func bypassed(status int) want {
	return want{status: status, ran: true, passed: true, outcome: core.OutcomeBypass}
}

// and adds a check of the exchange after the request.
func (w want) and(check func(t *testing.T, x *fakeExchange)) want {
	w.checks = append(w.checks, check)
	return w
}

// measuredAs sets the Measurement's expected Status.
func (w want) measuredAs(status int) want {
	w.measured = &status
	return w
}

// measuredStatus is the Status the request's Measurement must carry, as
// core.Measurement documents it: 500 after a panic, 0 for a bypass or a
// handler error, otherwise the status answered.
func (w want) measuredStatus() int {
	switch {
	case w.measured != nil:
		return *w.measured
	case w.panics:
		return 500
	case w.passed, w.err != nil:
		return 0
	}
	return w.status
}

// protoEnv is one row's Engine, store and telemetry.
type protoEnv struct {
	e     *core.Engine
	store *coretest.FlakyStore
	rec   *measureRecorder
}

func newProtoEnv(t *testing.T, pc protoCase) *protoEnv {
	t.Helper()
	p := &protoEnv{store: &coretest.FlakyStore{Store: memory.New()}, rec: newMeasureRecorder()}
	var st core.Store = p.store
	if pc.store != nil {
		st = pc.store(st)
	}
	// Short waits keep every row fast; a row that needs another sets it.
	opts := append([]core.Option{
		core.WithStore(st), core.WithTelemetry(p.rec), core.WithUserKey("user"),
		core.WithLockWait(20 * time.Millisecond), core.WithLease(2 * time.Second),
	}, pc.opts...)
	e, err := core.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	p.e = e
	return p
}

// run serves step s and checks what it got. i names the step in
// failures (nested steps are "1.0", ...).
func (p *protoEnv) run(t *testing.T, i any, s step) {
	t.Helper()
	if s.before != nil {
		s.before(p)
	}
	x, w := s.x, s.want
	x.ctx = p.rec.tag(x.ctx, x)
	if len(s.during) > 0 {
		h := x.handler
		if h == nil {
			h = respond(http.StatusCreated, "created")
		}
		x.handler = func(ctx context.Context, rw *fakeWriter) error {
			for j, d := range s.during {
				p.run(t, stepName(i, j), d)
			}
			return h(ctx, rw)
		}
	}
	panicked, err := serve(p.e, x)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("step %v: "+format, append([]any{i}, args...)...)
	}
	switch {
	case (panicked != nil) != w.panics:
		fail("panicked with %v, want a panic: %v", panicked, w.panics)
	case w.panics && panicked != errHandlerPanic:
		fail("panicked with %v, want the handler's own panic %v", panicked, errHandlerPanic)
	case w.err != nil && !errors.Is(err, w.err):
		fail("Serve = %v, want %v", err, w.err)
	case w.err == nil && err != nil:
		fail("Serve = %v, want nil", err)
	}
	if x.status != w.status {
		fail("status %d, want %d (body %q)", x.status, w.status, x.respBody)
	}
	if got := x.response().Get("Idempotency-Status"); got != w.idem {
		fail("Idempotency-Status %q, want %q", got, w.idem)
	}
	if got := btoi(w.ran); x.runs != got {
		fail("handler ran %d times, want %d", x.runs, got)
	}
	if got := btoi(w.passed); x.passes != got {
		fail("Pass ran %d times, want %d", x.passes, got)
	}
	if w.passed && (len(x.setHeaders) > 0 || len(x.replies) > 0) {
		fail("passed through, but the Engine set %v and replied %d times", x.setHeaders, len(x.replies))
	}
	p.checkProblem(fail, x, w)
	p.checkMeasurement(fail, x, w)
	for _, c := range w.checks {
		failed := t.Failed()
		c(t, x)
		if !failed && t.Failed() {
			t.Logf("(in step %v)", i)
		}
	}
}

func stepName(outer any, j int) string { return fmt.Sprintf("%v.%d", outer, j) }

// checkProblem checks that a refusal is an RFC 9457 problem of the
// expected kind (step 12), and that nothing else is.
func (p *protoEnv) checkProblem(fail func(string, ...any), x *fakeExchange, w want) {
	var problems []fakeReply
	for _, r := range x.replies {
		if r.header.Get("Content-Type") == "application/problem+json" {
			problems = append(problems, r)
		}
	}
	if w.problem == "" {
		if len(problems) > 0 {
			fail("answered a problem, want none: %s", problems[0].body)
		}
		return
	}
	if len(problems) != 1 || len(x.replies) != 1 {
		fail("replies %d, problems %d, want one problem %s", len(x.replies), len(problems), w.problem)
		return
	}
	r := problems[0]
	var body struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		fail("problem body %q: %v", r.body, err)
	}
	if body.Type != core.ProblemTypeBase+string(w.problem) || body.Status != r.status || body.Title == "" {
		fail("problem %+v, want type %s and status %d", body, w.problem, r.status)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		fail("problem without Cache-Control: no-store: %v", r.header)
	}
}

// checkMeasurement checks that an answered request was measured exactly
// once, as it was answered, and that one passed through untouched was
// not measured at all.
func (p *protoEnv) checkMeasurement(fail func(string, ...any), x *fakeExchange, w want) {
	ms := p.rec.of(x)
	if w.outcome == "" {
		if len(ms) != 0 {
			fail("measured %+v, want no measurement", ms)
		}
		return
	}
	if len(ms) != 1 {
		fail("measured %d times, want once: %+v", len(ms), ms)
		return
	}
	m := ms[0]
	if m.Outcome != w.outcome || m.Status != w.measuredStatus() || m.Method != x.method || m.Route != x.route {
		fail("measured %s %d %s %q, want %s %d %s %q", m.Outcome, m.Status, m.Method, m.Route,
			w.outcome, w.measuredStatus(), x.method, x.route)
	}
}

// serve runs e.Serve(x) and returns what it panicked with instead of
// propagating it, as a framework's recovery would.
func serve(e *core.Engine, x *fakeExchange) (panicked any, err error) {
	defer func() { panicked = recover() }()
	return nil, e.Serve(x)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
