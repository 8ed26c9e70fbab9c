package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// TestDemo runs exactly what `go run ./examples/demo` runs and requires
// every framework to behave as the table says it should, and all of them
// alike.
func TestDemo(t *testing.T) {
	var out strings.Builder
	ok, err := run(context.Background(), &out, frameworks, true)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("the demo saw deviations (see the table above)")
	}
	var names []string
	for _, fw := range frameworks {
		names = append(names, fw.name)
	}
	for _, want := range []string{"gin", "echo", "echov5", "fiber", "fiberv3"} {
		if !slices.Contains(names, want) {
			t.Errorf("frameworks %q, want %s among them", names, want)
		}
	}
	for _, fw := range frameworks {
		if !strings.Contains(out.String(), fw.name+": OK") {
			t.Errorf("no OK verdict for %s", fw.name)
		}
	}
	if !strings.Contains(out.String(), fmt.Sprintf("1 Original, %d Repeated", duplicates-1)) {
		t.Error("concurrent duplicates row missing")
	}
	// Every framework, gin (the reference) first.
	if verdict := strings.Join(names, " = ") + ": IDENTICAL"; names[0] != "gin" || !strings.Contains(out.String(), verdict) {
		t.Errorf("no agreement verdict %q", verdict)
	}
	// The tombstone and the resolution of an uncertain payment, row by
	// row: status, Idempotency-Status and the executions after the step.
	for _, want := range []struct{ scenario, status, idem, exec string }{
		{"export (streamed)", "200", "Original", "1 exports"},
		{"export retried", "410", "-", "1 exports"},
		{"payment fails after charging", "500", "Original", "3"},
		{"retried while uncertain", "423", "-", "3"},
		{"operator releases the key", "-", "-", "3"},
		{"retry after the release", "201", "Original", "4"},
		{"retried again", "201", "Repeated", "4"},
	} {
		for _, fw := range frameworks {
			line := regexp.MustCompile(`(?m)^\d+\s+` + regexp.QuoteMeta(want.scenario) + `\s+` + fw.name + `\s+` +
				regexp.QuoteMeta(want.status) + `\s+` + regexp.QuoteMeta(want.idem) + `\s+` + regexp.QuoteMeta(want.exec) + `\s+ok\s`)
			if !line.MatchString(out.String()) {
				t.Errorf("no row %q for %s with %s %s, executions %s", want.scenario, fw.name, want.status, want.idem, want.exec)
			}
		}
	}
	if !strings.Contains(out.String(), "Engine.Inspect: uncertain (handler answered 500 after declaring effects); Engine.Resolve(nil) released it") {
		t.Error("the resolution row does not show what the operator saw and did")
	}
}

// The demo must catch an app that does not provide idempotency, or it
// would be worthless as a smoke test.
func TestDemoDetectsDeviation(t *testing.T) {
	bare := framework{name: "bare", start: func(ln net.Listener, _ core.Store, s *shop.Shop) (func(context.Context) error, error) {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		for _, rt := range shop.Routes() {
			r.Handle(rt.Method, rt.Path, ginapp.Handler(s, rt.Endpoint)) // no idempotency middleware
		}
		return serveHTTP(ln, r), nil
	}}
	var out strings.Builder
	ok, err := run(context.Background(), &out, []framework{bare}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatalf("a bare app passed the demo:\n%s", out.String())
	}
	if testing.Verbose() {
		t.Log("\n" + out.String())
	}
	if !strings.Contains(out.String(), "bare: FAILED") || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("no failure verdict:\n%s", out.String())
	}
}

// An app that passes every check but answers differently from the first
// framework (here: one more header value) fails the demo too.
func TestDemoDetectsDifference(t *testing.T) {
	private := framework{name: "private", start: func(ln net.Listener, store core.Store, s *shop.Shop) (func(context.Context) error, error) {
		gin.SetMode(gin.ReleaseMode)
		r, err := ginapp.New(store, s, demoSigning())
		if err != nil {
			return nil, err
		}
		return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Cache-Control", "private") // problems overwrite it with no-store
			r.ServeHTTP(w, req)
		})), nil
	}}
	var out strings.Builder
	ok, err := run(context.Background(), &out, []framework{frameworks[0], private}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatalf("a differing app passed the demo:\n%s", out.String())
	}
	if testing.Verbose() {
		t.Log("\n" + out.String())
	}
	for _, want := range []string{"private: OK", "gin vs private: DIFFERENT", "DIFF", `Cache-Control="private"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestFrameworksAgree plays the demo's scenarios and then a longer script
// of single requests against gin, echo, fiber and fiberv3, each started fresh, and
// requires byte-identical status, body and idempotency headers (see
// signature) for every request, and each request's expected outcome.
func TestFrameworksAgree(t *testing.T) {
	steps := append(scenarios(), script()...)
	rows, _, err := playAll(context.Background(), frameworks, steps)
	if err != nil {
		t.Fatal(err)
	}
	for f, fw := range frameworks {
		for s, st := range steps {
			for _, p := range rows[f][s].problems {
				t.Errorf("%s, step %d (%s): %s", fw.name, s+1, st.name, p)
			}
		}
	}
	_, diffs := compare(frameworks, steps, rows)
	for _, d := range diffs {
		t.Error("answers differ:\n" + d)
	}
	if testing.Verbose() {
		for s, st := range steps {
			t.Logf("%2d %-32s %s", s+1, st.name, rows[0][s].sig)
		}
	}
}

// Fixed keys for the script (the scenarios draw theirs from a sequence).
const (
	keyA = "0d9b2f4e-1c3a-4b5d-8e6f-7a8b9c0d1e2f"
	keyB = "1d9b2f4e-1c3a-4b5d-8e6f-7a8b9c0d1e2f"
	keyC = "2d9b2f4e-1c3a-4b5d-8e6f-7a8b9c0d1e2f"
	keyD = "3d9b2f4e-1c3a-4b5d-8e6f-7a8b9c0d1e2f"
	keyE = "4d9b2f4e-1c3a-4b5d-8e6f-7a8b9c0d1e2f"
	keyF = "5d9b2f4e-1c3a-4b5d-8e6f-7a8b9c0d1e2f"
)

// script returns single-request steps beyond the demo's scenarios: every
// route, cached and uncached errors, key forms and scopes. Their wantExec
// is not checked.
func script() []step {
	req := func(name, method, path, body string, wantStatus int, wantIdem string, hdr ...string) step {
		return step{name: name, play: func(ctx context.Context, t *target) result {
			rp, err := t.request(ctx, method, path, body, hdr...)
			res := single(rp, err, wantStatus, wantIdem, "")
			if err == nil && wantIdem == "" && wantStatus >= 400 {
				problemJSON(&res, rp)
			}
			return res
		}}
	}
	big := `{"amount":1,"currency":"EUR","pad":"` + strings.Repeat("x", shop.MaxBodyBytes) + `"}`
	return []step{
		req("validation 400", "POST", "/payments", `{"amount":0,"currency":"EUR"}`, 400, "Original", "Idempotency-Key", keyA),
		req("validation 400 replayed", "POST", "/payments", `{"amount":0,"currency":"EUR"}`, 400, "Repeated", "Idempotency-Key", keyA),
		req("handler 500", "POST", "/payments?fail=500", paymentBody, 500, "Original", "Idempotency-Key", keyB),
		req("handler 500 not stored", "POST", "/payments?fail=500", paymentBody, 500, "Original", "Idempotency-Key", keyB),
		req("invalid key", "POST", "/payments", paymentBody, 400, "", "Idempotency-Key", "not-a-uuid"),
		req("two keys", "POST", "/payments", paymentBody, 400, "", "Idempotency-Key", keyC, "Idempotency-Key", keyD),
		req("sf-string key", "POST", "/payments", paymentBody, 201, "Original", "Idempotency-Key", `"`+keyC+`"`),
		req("bare form of that key", "POST", "/payments", paymentBody, 201, "Repeated", "Idempotency-Key", keyC),
		req("same key on /refunds", "POST", "/refunds", paymentBody, 201, "Original", "Idempotency-Key", keyC),
		req("same key, user bob", "POST", "/payments", paymentBody, 201, "Original", "Idempotency-Key", keyC, shop.UserHeader, "bob"),
		req("same key, no user", "POST", "/payments", paymentBody, 201, "Original", "Idempotency-Key", keyC, shop.UserHeader, ""),
		req("body over the shop's limit", "POST", "/payments", big, 413, "Original", "Idempotency-Key", keyD),
		req("query order ignored", "POST", "/payments?b=2&a=1", paymentBody, 201, "Original", "Idempotency-Key", keyE),
		req("query reordered", "POST", "/payments?a=1&b=2", paymentBody, 201, "Repeated", "Idempotency-Key", keyE),
		req("vote without key", "POST", "/votes", "", 201, ""),
		req("vote with key", "POST", "/votes", "", 201, "Original", "Idempotency-Key", keyA),
		req("vote replayed", "POST", "/votes", "", 201, "Repeated", "Idempotency-Key", keyA),
		req("webhook", "POST", "/webhooks", `{"n":1}`, 200, "Original", shop.WebhookHeader, "evt_42"),
		req("webhook redelivered", "POST", "/webhooks", `{"n":2}`, 200, "Repeated", shop.WebhookHeader, "evt_42"),
		req("webhook without id", "POST", "/webhooks", `{"n":3}`, 400, ""),
		req("export without key", "POST", "/exports", "{}", 400, ""),
		{name: "export streamed", play: func(ctx context.Context, t *target) result {
			return t.export(ctx, keyF, "")
		}},
		{name: "export retried", play: func(ctx context.Context, t *target) result {
			rp, err := t.request(ctx, "POST", "/exports", exportBody, "Idempotency-Key", keyF)
			res := single(rp, err, http.StatusGone, "", "")
			if err != nil {
				return res
			}
			// A streamed answer is never stored, so the retry is never its
			// replay: a tombstone refuses it, and the export never runs
			// twice.
			res.expect(!apptest.IsStreamReplay(&apptest.Reply{Code: rp.status, Header: rp.header, Body: string(rp.body)}),
				"a stored copy of the stream was replayed")
			problemOf(&res, rp, core.ProblemResultUnavailable)
			n, err := t.executions(ctx, shop.Exports)
			res.expect(err == nil && n == int64(t.exports), "exports ran %d times (%v), want %d: the retry ran again", n, err, t.exports)
			return res
		}},
		req("stats", "GET", "/stats", "", 200, ""),
	}
}

// request sends method path with a JSON body as the demo user; hdr are
// header pairs added after that (an empty value deletes the header).
func (t *target) request(ctx context.Context, method, path, body string, hdr ...string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shop.UserHeader, demoUser)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		if i == 0 || hdr[i] != hdr[i-2] {
			req.Header.Del(hdr[i])
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return t.send(req)
}
