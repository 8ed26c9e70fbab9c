package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// The demo's client. Every scenario speaks as one user so that the
// default scope, user_route, puts all its keys in one key space.
const (
	demoUser    = "alice"
	paymentBody = `{"amount":1000,"currency":"EUR"}`
	// Same object: keys reordered, whitespace added. The canonical JSON
	// fingerprint must see no difference.
	reorderedBody = "{\n  \"currency\" : \"EUR\",\n\t\"amount\":   1000\n}"
	otherAmount   = `{"amount":2500,"currency":"EUR"}`
	duplicates    = 20
)

// target is one running framework app and what the scenarios remember
// about it between steps.
type target struct {
	base   string
	client *http.Client
	store  *outageStore
	keys   *rand.ChaCha8 // the same seed for every framework: same keys

	key   string // the key of the first payment, reused by the next steps
	first reply  // the first payment's response, which replays must equal
	// exportKey and uncertainKey are the keys of the tombstone and the
	// uncertain-payment scenarios, reused by their retries.
	exportKey, uncertainKey string
	// exports counts the exports streamed so far, which number them
	// (exp_N).
	exports int
	// sent counts the requests sent to /payments, the endpoint whose
	// executions the verdict compares them with.
	sent atomic.Int64
}

// reply is a response, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// post sends POST base+path with the demo user, key (none when empty) and
// a JSON body.
func (t *target) post(ctx context.Context, path, key, body string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shop.UserHeader, demoUser)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if strings.HasPrefix(path, "/payments") {
		t.sent.Add(1)
	}
	return t.send(req)
}

func (t *target) send(req *http.Request) (reply, error) {
	resp, err := t.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// executions reads the execution counter of e through GET /stats, as a
// user of the example server would.
func (t *target) executions(ctx context.Context, e shop.Endpoint) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/stats", nil)
	if err != nil {
		return 0, err
	}
	r, err := t.send(req)
	if err != nil {
		return 0, err
	}
	if r.status != http.StatusOK {
		return 0, fmt.Errorf("GET /stats: status %d", r.status)
	}
	var snap shop.Snapshot
	if err := sonic.ConfigStd.Unmarshal(r.body, &snap); err != nil {
		return 0, fmt.Errorf("GET /stats: %w", err)
	}
	switch e {
	case shop.Payments:
		return snap.Executions.Payments, nil
	case shop.Exports:
		return snap.Executions.Exports, nil
	default:
		return 0, fmt.Errorf("the demo does not count %v", e)
	}
}

// step is one scenario.
type step struct {
	name string
	// wantExec is the execution count of endpoint expected after the
	// step: the number idempotency exists to keep down.
	wantExec int64
	// endpoint is the handler whose executions the step counts: the zero
	// value, shop.Payments, unless it says otherwise.
	endpoint shop.Endpoint
	play     func(ctx context.Context, t *target) result
}

// result is what a step saw, ready for the table.
type result struct {
	status   string // HTTP status, or a summary for concurrent requests
	idem     string // Idempotency-Status, or a summary
	why      string
	body     string
	problems []string // deviations from the expected outcome
	// sig is what every framework must answer byte for byte alike (see
	// signature); for concurrent requests, the multiset of their sigs.
	sig string
}

// signature renders what a response must share with the other
// frameworks' answers to the same request: status, body and the headers
// that carry idempotency (Idempotency-Status, Content-Type, Location,
// Cache-Control, the presence of Retry-After and Set-Cookie). Nothing is
// normalised: ids such as pay_1 match because every server starts fresh.
// X-Request-Id is left out on purpose: it is new on every response, so
// single checks that it is there and replayed that a replay's differs
// from the original's.
func signature(rp reply) string {
	h := rp.header
	return fmt.Sprintf("%d Idempotency-Status=%q Content-Type=%q Location=%q Cache-Control=%q Retry-After:%t Set-Cookie:%t body=%q",
		rp.status, h.Get("Idempotency-Status"), h.Get("Content-Type"), h.Get("Location"), h.Get("Cache-Control"),
		h.Get("Retry-After") != "", h.Get("Set-Cookie") != "", rp.body)
}

func (r *result) expect(ok bool, format string, args ...any) {
	if !ok {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// single turns one response into a result and checks its status and
// Idempotency-Status ("" expects the header to be absent).
func single(rp reply, err error, wantStatus int, wantIdem, why string) result {
	if err != nil {
		return result{status: "error", idem: "-", why: why, problems: []string{"request failed: " + err.Error()}}
	}
	res := result{status: strconv.Itoa(rp.status), idem: orDash(rp.header.Get("Idempotency-Status")), why: why, body: string(rp.body), sig: signature(rp)}
	res.expect(rp.status == wantStatus, "status %d, want %d", rp.status, wantStatus)
	got := rp.header.Get("Idempotency-Status")
	res.expect(got == wantIdem, "Idempotency-Status %q, want %q", got, wantIdem)
	res.expect(rp.header.Get(shop.RequestIDHeader) != "", "no %s header", shop.RequestIDHeader)
	return res
}

// problemJSON checks that an error is an RFC 9457 problem, as the spec
// promises for every refusal of the middleware.
func problemJSON(res *result, rp reply) {
	ct := rp.header.Get("Content-Type")
	res.expect(strings.HasPrefix(ct, "application/problem+json"), "Content-Type %q, want application/problem+json", ct)
}

// problemOf checks that rp is the problem of kind (its type URI).
func problemOf(res *result, rp reply, kind core.ProblemKind) {
	problemJSON(res, rp)
	want := fmt.Sprintf(`"type":%q`, core.ProblemTypeBase+string(kind))
	res.expect(strings.Contains(string(rp.body), want), "body %s lacks %s", rp.body, want)
}

// replayed checks that a replay reproduces the first response: same
// body and Location, and no Set-Cookie, which is never replayed; its
// X-Request-Id is its own, set outside the idempotency middleware.
func replayed(res *result, t *target, rp reply) {
	id, orig := rp.header.Get(shop.RequestIDHeader), t.first.header.Get(shop.RequestIDHeader)
	res.expect(id == "" || id != orig, "the replay carries the original's %s %q, want a fresh one", shop.RequestIDHeader, orig)
	res.expect(string(rp.body) == string(t.first.body), "replayed body %s differs from the original %s", rp.body, t.first.body)
	loc, want := rp.header.Get("Location"), t.first.header.Get("Location")
	res.expect(loc == want, "replayed Location %q, want %q", loc, want)
	res.expect(rp.header.Get("Set-Cookie") == "", "Set-Cookie was replayed: %q", rp.header.Get("Set-Cookie"))
}

// retryStep resends the first payment's key with body and expects the
// stored response back, unchanged and without running the handler.
func retryStep(name, body, why string) step {
	return step{name: name, wantExec: 1, play: func(ctx context.Context, t *target) result {
		rp, err := t.post(ctx, "/payments", t.key, body)
		res := single(rp, err, http.StatusCreated, "Repeated", why)
		if err == nil {
			replayed(&res, t, rp)
		}
		return res
	}}
}

// scenarios returns the steps, in order. They build on each other (the
// same key is reused), so they run sequentially against one app.
func scenarios() []step {
	return []step{
		{name: "first payment", wantExec: 1, play: func(ctx context.Context, t *target) result {
			t.key = t.newKey()
			rp, err := t.post(ctx, "/payments", t.key, paymentBody)
			res := single(rp, err, http.StatusCreated, "Original", "handler ran; response stored under the key")
			if err == nil {
				t.first = rp
				res.expect(rp.header.Get("Location") != "", "no Location header")
				res.expect(rp.header.Get("Set-Cookie") != "", "no Set-Cookie header")
			}
			return res
		}},
		retryStep("retry, same key and body", paymentBody, "stored response replayed (same body and Location, no Set-Cookie)"),
		retryStep("retry, JSON keys reordered", reorderedBody, "canonical JSON fingerprint: key order and spaces do not count"),
		{name: "same key, other amount", wantExec: 1, play: func(ctx context.Context, t *target) result {
			rp, err := t.post(ctx, "/payments", t.key, otherAmount)
			res := single(rp, err, http.StatusUnprocessableEntity, "", "key reused for a different payload: refused, nothing ran")
			if err == nil {
				problemJSON(&res, rp)
			}
			return res
		}},
		{name: fmt.Sprintf("%d concurrent duplicates", duplicates), wantExec: 2, play: concurrentDuplicates},
		{name: "missing key", wantExec: 2, play: func(ctx context.Context, t *target) result {
			rp, err := t.post(ctx, "/payments", "", paymentBody)
			res := single(rp, err, http.StatusBadRequest, "", "/payments requires an Idempotency-Key")
			if err == nil {
				problemJSON(&res, rp)
			}
			return res
		}},
		{name: "store down", wantExec: 2, play: func(ctx context.Context, t *target) result {
			t.store.down.Store(true)
			defer t.store.down.Store(false)
			rp, err := t.post(ctx, "/payments", t.newKey(), paymentBody)
			res := single(rp, err, http.StatusServiceUnavailable, "", "fail closed: no run without idempotency; Retry-After set")
			if err == nil {
				problemJSON(&res, rp)
				res.expect(rp.header.Get("Retry-After") != "", "no Retry-After header")
			}
			return res
		}},
		{name: "export (streamed)", wantExec: 1, endpoint: shop.Exports, play: func(ctx context.Context, t *target) result {
			t.exportKey = t.newKey()
			return t.export(ctx, t.exportKey, "handler streamed its answer: delivered, never stored")
		}},
		{name: "export retried", wantExec: 1, endpoint: shop.Exports, play: func(ctx context.Context, t *target) result {
			rp, err := t.post(ctx, "/exports", t.exportKey, exportBody)
			res := single(rp, err, http.StatusGone, "", "tombstone: result-unavailable; the export never runs twice")
			if err == nil {
				problemOf(&res, rp, core.ProblemResultUnavailable)
			}
			return res
		}},
		{name: "payment fails after charging", wantExec: 3, play: func(ctx context.Context, t *target) result {
			t.uncertainKey = t.newKey()
			rp, err := t.post(ctx, "/payments?"+failAfterCharge, t.uncertainKey, paymentBody)
			return single(rp, err, http.StatusInternalServerError, "Original", failAfterCharge+": effects declared, then 500: not released")
		}},
		{name: "retried while uncertain", wantExec: 3, play: func(ctx context.Context, t *target) result {
			rp, err := t.post(ctx, "/payments?"+failAfterCharge, t.uncertainKey, paymentBody)
			res := single(rp, err, http.StatusLocked, "", "operation-uncertain: may have charged; nothing runs until resolved")
			if err == nil {
				problemOf(&res, rp, core.ProblemOperationUncertain)
			}
			return res
		}},
		{name: "operator releases the key", wantExec: 3, play: resolveUncertain},
		{name: "retry after the release", wantExec: 4, play: func(ctx context.Context, t *target) result {
			rp, err := t.post(ctx, "/payments", t.uncertainKey, paymentBody)
			return single(rp, err, http.StatusCreated, "Original", "released: the retry (fault gone) charges once")
		}},
		{name: "retried again", wantExec: 4, play: func(ctx context.Context, t *target) result {
			rp, err := t.post(ctx, "/payments", t.uncertainKey, paymentBody)
			return single(rp, err, http.StatusCreated, "Repeated", "stored response replayed")
		}},
	}
}

// failAfterCharge is the query of a payment that declares its effects
// (charges) and then fails: the middleware must not release its key.
const failAfterCharge = "effects=1&fail=500"

// exportBody stands for an export's filters.
const exportBody = `{"format":"csv"}`

// export starts an export with key and checks that it streams exp_N,
// the next export's id.
func (t *target) export(ctx context.Context, key, why string) result {
	rp, err := t.post(ctx, "/exports", key, exportBody)
	res := single(rp, err, http.StatusOK, "Original", why)
	if err == nil {
		t.exports++
		ct := rp.header.Get("Content-Type")
		res.expect(ct == shop.ExportContentType, "Content-Type %q, want %s", ct, shop.ExportContentType)
		if err := apptest.CheckExportEvents(string(rp.body), fmt.Sprintf("exp_%d", t.exports)); err != nil {
			res.expect(false, "event stream: %v", err)
		}
	}
	return res
}

// resolveUncertain plays the operator: it looks the uncertain key up and,
// having checked (say, with the payment provider) that nothing was
// charged, releases it through the Engine API, with an Engine on the
// server's store and the payment route's options (so that the key is
// canonicalised as requests' keys are). The scope is the one the
// middleware stored the key under: user_route, the demo user, the route.
func resolveUncertain(ctx context.Context, t *target) result {
	res := result{status: "-", idem: "-"}
	eng, err := core.New(shop.Options(t.store, shop.Payments, demoSigning())...)
	if err != nil {
		res.problems = append(res.problems, "engine: "+err.Error())
		return res
	}
	scope := core.ScopeString(core.ScopeUserRoute, demoUser, http.MethodPost, "/payments", "")
	in, err := eng.Inspect(ctx, scope, t.uncertainKey)
	if err != nil {
		res.why = "Engine.Inspect: " + err.Error()
		res.problems = append(res.problems, "Engine.Inspect: "+err.Error()+", want an uncertain record")
		return res
	}
	res.expect(in.State == core.StateUncertain, "record %s, want uncertain", in.State)
	err = eng.Resolve(ctx, scope, t.uncertainKey, nil)
	res.expect(err == nil, "Engine.Resolve: %v", err)
	res.why = fmt.Sprintf("Engine.Inspect: %s (%s); Engine.Resolve(nil) released it", in.State, in.Reason)
	res.sig = fmt.Sprintf("%s %q resolved:%t", in.State, in.Reason, err == nil)
	return res
}

// concurrentDuplicates fires the same slow request (300ms handler) with a
// new key from many goroutines at once: one claims the key and runs, the
// others wait for it (lock wait) and get its stored response.
func concurrentDuplicates(ctx context.Context, t *target) result {
	key := t.newKey()
	replies := make([]reply, duplicates)
	errs := make([]error, duplicates)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range duplicates {
		wg.Go(func() {
			<-start // release them together to maximise the overlap
			replies[i], errs[i] = t.post(ctx, "/payments?delay=300ms", key, paymentBody)
		})
	}
	close(start)
	wg.Wait()

	res := result{why: "one request claimed the key and ran; the others waited and got its response"}
	statuses := map[string]int{}
	sigs := map[string]int{}
	idems := map[string]int{}
	bodies := map[string]bool{}
	requestIDs := map[string]bool{}
	for i, rp := range replies {
		if errs[i] != nil {
			statuses["error"]++
			res.problems = append(res.problems, "request failed: "+errs[i].Error())
			continue
		}
		statuses[strconv.Itoa(rp.status)]++
		sigs[signature(rp)]++
		idems[orDash(rp.header.Get("Idempotency-Status"))]++
		bodies[string(rp.body)] = true
		requestIDs[rp.header.Get(shop.RequestIDHeader)] = true
		res.body = string(rp.body)
	}
	res.status = summarize(statuses, "x")
	res.sig = summarize(sigs, "x")
	res.idem = fmt.Sprintf("%d Original, %d Repeated", idems["Original"], idems["Repeated"])
	if other := duplicates - idems["Original"] - idems["Repeated"]; other > 0 {
		res.idem += fmt.Sprintf(", %d other (%s)", other, summarize(idems, "x"))
	}
	res.expect(statuses["201"] == duplicates, "statuses %s, want 201 x%d", res.status, duplicates)
	res.expect(idems["Original"] == 1 && idems["Repeated"] == duplicates-1,
		"Idempotency-Status %s, want 1 Original, %d Repeated", res.idem, duplicates-1)
	res.expect(len(bodies) <= 1, "%d different response bodies, want one", len(bodies))
	res.expect(len(requestIDs) == duplicates && !requestIDs[""],
		"%d different %s values in %d responses, want a fresh one on each", len(requestIDs), shop.RequestIDHeader, duplicates)
	return res
}

// summarize renders counts as "201 x20" or "201 x19, 409 x1".
func summarize(counts map[string]int, sep string) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s%d", k, sep, counts[k])
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newKey returns the next key of t's sequence, a version 4 UUID (the
// format the payment routes accept). Every framework's target is seeded
// alike, so they all see the same keys and must answer alike.
func (t *target) newKey() string {
	var b [16]byte
	_, _ = t.keys.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
