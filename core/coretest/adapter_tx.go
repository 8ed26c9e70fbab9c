package coretest

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

func init() {
	adapterCases = append(adapterCases, txCases...)
}

// txCases hold transactional completion (core.TxStore): the handler's
// business rows and its record commit together; its response is held
// until they have, and replaced by a not-committed problem when they have
// not, whatever the handler wrote.
var txCases = []adapterCase{
	{name: "Step9_TxCommitsRowsWithTheRecord", run: func(t *testing.T, e *env) {
		tx := e.newTx()
		e.startStore(tx.Store())
		r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1"})
		wantStatus(t, r, 201, "Original")
		if r.Header.Get("Location") != "/items/1" || field(t, r.Body, "route") != "items" {
			t.Fatalf("held response not the handler's: %v %s", r.Header, r.Body)
		}
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?tx=1"}), 201, "Repeated")
		e.wantCount("items", 1)
		if rows := tx.Rows(t); len(rows) != 1 || rows[0] != "items/1/1" {
			t.Fatalf("rows = %v, want the one run's row", rows)
		}
	}},
	{name: "Step9_TxNotCommittedReplacesTheHeldResponse", run: func(t *testing.T, e *env) {
		tx := e.newTx()
		e.startStore(tx.Store())
		tx.FailNextCommit(t)
		r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=3000"})
		wantProblem(t, r, http.StatusServiceUnavailable, core.ProblemNotCommitted)
		for _, h := range []string{"Location", "X-Execution", "Set-Cookie"} {
			if r.Header.Get(h) != "" {
				t.Fatalf("the handler's %s reached the client with the problem: %v", h, r.Header)
			}
		}
		if r.Header.Get("Retry-After") == "" || r.Header.Get("X-Request-Id") == "" {
			t.Fatalf("want Retry-After and the outer X-Request-Id: %v", r.Header)
		}
		if rows := tx.Rows(t); len(rows) != 0 {
			t.Fatalf("rows = %v after a failed commit", rows)
		}
		// Released: the retry runs again, and commits.
		r = e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=3000"})
		wantStatus(t, r, 201, "Original")
		if len(r.Body) != 3000 {
			t.Fatalf("held body of %d bytes, want 3000", len(r.Body))
		}
		e.wantCount("items", 2)
		if rows := tx.Rows(t); len(rows) != 1 || rows[0] != "items/1/2" {
			t.Fatalf("rows = %v, want the second run's", rows)
		}
	}},
	{name: "Step9_TxRolledBackWhenTheHandlerFails", run: func(t *testing.T, e *env) {
		tx := e.newTx()
		e.startStore(tx.Store())
		for i := 1; i <= 2; i++ {
			r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&status=500"})
			if r.Status != 500 || r.Header.Get("X-Execution") != strconv.Itoa(i) {
				t.Fatalf("run %d: %d %v, want the handler's own 500", i, r.Status, r.Header)
			}
		}
		e.wantCount("items", 2)
		if rows := tx.Rows(t); len(rows) != 0 {
			t.Fatalf("rows = %v after failed runs", rows)
		}
	}},
	{name: "Step9_TxOversizeHeldWholeAndTombstoned", run: func(t *testing.T, e *env) {
		tx := e.newTx()
		e.startStore(tx.Store(), core.WithMaxResponseBytes(300))
		r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=5000"})
		wantStatus(t, r, 201, "Original")
		if len(r.Body) != 5000 {
			t.Fatalf("held body of %d bytes, want all 5000", len(r.Body))
		}
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=5000"}), http.StatusGone, core.ProblemResultUnavailable)
		e.wantCount("items", 1)
		if rows := tx.Rows(t); len(rows) != 1 {
			t.Fatalf("rows = %v, want one, committed with the tombstone", rows)
		}
	}},
	{name: "Step7_TxConcurrentDuplicatesCommitOnce", run: func(t *testing.T, e *env) {
		tx := e.newTx()
		e.startStore(tx.Store())
		replies := e.parallel(50, req{key: k1, body: payment, path: "/items/1?tx=1&delay=50ms"})
		originals := 0
		for _, r := range replies {
			switch r.Header.Get("Idempotency-Status") {
			case "Original":
				originals++
			case "Repeated":
			default:
				if r.Status != http.StatusConflict {
					t.Fatalf("reply %d %v", r.Status, r.Header)
				}
			}
		}
		if originals != 1 {
			t.Fatalf("%d originals, want 1", originals)
		}
		e.wantCount("items", 1)
		if rows := tx.Rows(t); len(rows) != 1 {
			t.Fatalf("rows = %v, want one", rows)
		}
	}},
}

func init() {
	adapterCases = append(adapterCases, adapterCase{name: "Step9_TxHandlerPanicLeaksNothing", run: func(t *testing.T, e *env) {
		// A handler that panics under an open transaction, before or
		// after writing its response: the transaction is rolled back, so
		// none of the held response (status, headers, cookies, body) may
		// reach the client with whatever the framework's recovery answers.
		tx := e.newTx()
		e.startStore(tx.Store())
		for _, when := range []string{"1", "after"} {
			r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&panic=" + when})
			switch {
			case r.Status == http.StatusServiceUnavailable:
				wantProblem(t, r, r.Status, core.ProblemNotCommitted) // whole: nothing written after it
			case r.Status < 500:
				t.Fatalf("panic=%s: status %d, want a failure; body %q", when, r.Status, r.Body)
			}
			for _, h := range []string{"Location", "X-Execution", "Set-Cookie", "X-Multi"} {
				if r.Header.Get(h) != "" {
					t.Fatalf("panic=%s: the handler's %s reached the client: %v", when, h, r.Header)
				}
			}
			if strings.Contains(string(r.Body), `"route"`) {
				t.Fatalf("panic=%s: the handler's body reached the client: %q", when, r.Body)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Fatalf("panic=%s: the outer X-Request-Id is gone: %v", when, r.Header)
			}
		}
		e.wantCount("items", 2)
		if rows := tx.Rows(t); len(rows) != 0 {
			t.Fatalf("rows = %v after panics", rows)
		}
	}})
}

func init() {
	adapterCases = append(adapterCases, adapterCase{name: "Step9_TxNotCommittedResponderErrorLeaksNothing", run: func(t *testing.T, e *env) {
		// An error responder that returns the not-committed problem as an
		// error hands it to the framework's error handling, which must
		// find nothing of the held response: neither the handler's headers
		// nor its body, nor a response the framework takes as already
		// sent (Echo answered an empty 200).
		tx := e.newTx()
		e.startStore(tx.Store(), core.WithErrorResponder(core.ErrorResponderFunc(func(_ core.Request, p *core.Problem) (core.Response, error) {
			return core.Response{}, p
		})))
		tx.FailNextCommit(t)
		r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1"})
		if r.Status < 500 {
			t.Fatalf("status %d, want the framework's error answer; body %q", r.Status, r.Body)
		}
		for _, h := range []string{"Location", "X-Execution", "Set-Cookie", "X-Multi"} {
			if r.Header.Get(h) != "" {
				t.Fatalf("the handler's %s reached the client: %v", h, r.Header)
			}
		}
		if strings.Contains(string(r.Body), `"route"`) {
			t.Fatalf("the handler's body reached the client: %q", r.Body)
		}
		if rows := tx.Rows(t); len(rows) != 0 {
			t.Fatalf("rows = %v after a failed commit", rows)
		}
	}})
}

// silentRenewals is a TxStore whose renewals report success without
// renewing: the Engine believes it holds a lease that has expired, as
// after a pause longer than the lease (GC, a stalled VM). Embedding the
// interface hides the store's RenewBatch, so the Engine calls Renew.
type silentRenewals struct{ core.TxStore }

func (silentRenewals) Renew(context.Context, string, uint64, time.Duration) error { return nil }

func init() {
	adapterCases = append(adapterCases, adapterCase{name: "Step9_TxTakenOverNotCommitted", run: func(t *testing.T, e *env) {
		// The first run's lease expires unnoticed while its handler
		// writes; a retry takes the claim over and commits. The first
		// completion must then be refused by the store's fence inside the
		// transaction: its row rolled back and its held 201 replaced by a
		// not-committed problem, never a success whose writes are gone.
		tx := e.newTx()
		e.startStore(silentRenewals{tx.Store()}, core.Tag("lease=100ms,wait=0s"))
		var first Reply
		done := make(chan struct{})
		go func() {
			defer close(done)
			first = e.do(req{key: k1, body: payment, path: "/items/1?tx=1&delay=1s"})
		}()
		// The first run holds the claim once it counts; then its 100 ms
		// lease runs out unrenewed. The second must take it over before
		// the first's handler ends: 800 ms of slack for a loaded machine.
		for deadline := time.Now().Add(5 * time.Second); e.app.Count("items") == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the first run never started")
			}
		}
		time.Sleep(200 * time.Millisecond)
		second := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&delay=1s"})
		<-done
		wantStatus(t, second, 201, "Original")
		wantProblem(t, first, http.StatusServiceUnavailable, core.ProblemNotCommitted)
		if first.Header.Get("Location") != "" || first.Header.Get("X-Execution") != "" {
			t.Fatalf("the first run's headers reached the client: %v", first.Header)
		}
		e.wantCount("items", 2)
		if rows := tx.Rows(t); len(rows) != 1 || rows[0] != "items/1/2" {
			t.Fatalf("rows = %v, want only the second run's", rows)
		}
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?tx=1&delay=1s"}), 201, "Repeated")
	}})
}
