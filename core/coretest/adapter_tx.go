package coretest

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
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
		st := NewTxStore(memory.New())
		e.startStore(st)
		r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1"})
		wantStatus(t, r, 201, "Original")
		if r.Header.Get("Location") != "/items/1" || field(t, r.Body, "route") != "items" {
			t.Fatalf("held response not the handler's: %v %s", r.Header, r.Body)
		}
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?tx=1"}), 201, "Repeated")
		e.wantCount("items", 1)
		if rows := st.Rows(); len(rows) != 1 || rows[0] != "items/1/1" {
			t.Fatalf("rows = %v, want the one run's row", rows)
		}
	}},
	{name: "Step9_TxNotCommittedReplacesTheHeldResponse", run: func(t *testing.T, e *env) {
		st := NewTxStore(memory.New())
		e.startStore(st)
		st.FailCommits.Store(1)
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
		if rows := st.Rows(); len(rows) != 0 {
			t.Fatalf("rows = %v after a failed commit", rows)
		}
		// Released: the retry runs again, and commits.
		r = e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=3000"})
		wantStatus(t, r, 201, "Original")
		if len(r.Body) != 3000 {
			t.Fatalf("held body of %d bytes, want 3000", len(r.Body))
		}
		e.wantCount("items", 2)
		if rows := st.Rows(); len(rows) != 1 || rows[0] != "items/1/2" {
			t.Fatalf("rows = %v, want the second run's", rows)
		}
	}},
	{name: "Step9_TxRolledBackWhenTheHandlerFails", run: func(t *testing.T, e *env) {
		st := NewTxStore(memory.New())
		e.startStore(st)
		for i := 1; i <= 2; i++ {
			r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&status=500"})
			if r.Status != 500 || r.Header.Get("X-Execution") != strconv.Itoa(i) {
				t.Fatalf("run %d: %d %v, want the handler's own 500", i, r.Status, r.Header)
			}
		}
		e.wantCount("items", 2)
		if rows := st.Rows(); len(rows) != 0 {
			t.Fatalf("rows = %v after failed runs", rows)
		}
	}},
	{name: "Step9_TxOversizeHeldWholeAndTombstoned", run: func(t *testing.T, e *env) {
		st := NewTxStore(memory.New())
		e.startStore(st, core.WithMaxResponseBytes(300))
		r := e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=5000"})
		wantStatus(t, r, 201, "Original")
		if len(r.Body) != 5000 {
			t.Fatalf("held body of %d bytes, want all 5000", len(r.Body))
		}
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?tx=1&size=5000"}), http.StatusGone, core.ProblemResultUnavailable)
		e.wantCount("items", 1)
		if rows := st.Rows(); len(rows) != 1 {
			t.Fatalf("rows = %v, want one, committed with the tombstone", rows)
		}
	}},
	{name: "Step7_TxConcurrentDuplicatesCommitOnce", run: func(t *testing.T, e *env) {
		st := NewTxStore(memory.New())
		e.startStore(st)
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
		if rows := st.Rows(); len(rows) != 1 {
			t.Fatalf("rows = %v, want one", rows)
		}
	}},
}
