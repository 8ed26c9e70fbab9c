package coretest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idemkit/idempotency/core"
)

// TypedHooks are one adapter's framework-typed options (its WithSkipper,
// WithUserGetter, WithScopeGetter, WithKeyGetter and Context, built on
// core.Hooks), each wrapped by the adapter's test so that the hooks suite
// (TestHooks) can drive them without knowing the framework. Every func
// must read the request through the framework's own context, as a user
// of the adapter would.
type TypedHooks struct {
	// SkipIfHeader returns WithSkipper skipping the requests that carry
	// the named header.
	SkipIfHeader func(name string) core.Option
	// UserFromHeader returns WithUserGetter answering the named header's
	// value ("" when absent).
	UserFromHeader func(name string) core.Option
	// ScopeFromHeader returns WithScopeGetter answering the named
	// header's value, and an error when the request has none.
	ScopeFromHeader func(name string) core.Option
	// KeyFromQuery returns WithKeyGetter reading the key from the named
	// query parameter, found when its value is not empty.
	KeyFromQuery func(name string) core.Option
	// HasContext reports whether the adapter's Context(r) is not nil.
	HasContext func(r core.Request) bool
}

// TestHooks runs the typed-hooks suite: the adapter's typed options,
// served by the harness's app exactly like the conformance suite's
// (TestAdapter), do what their core counterparts do; typed options of
// another framework fail safely (core.ErrForeignRequest), never with a
// panic.
func TestHooks(t *testing.T, h Harness, hooks TypedHooks) {
	for _, tc := range hookCases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, &env{t: t, h: h}, hooks)
		})
	}
}

// foreign builds typed options for a "framework" whose context no adapter
// has: every From fails, as when an option of idemecho is given to
// idemgin's middleware.
var foreign = core.Hooks[int]{From: func(core.Request) (int, bool) { return 0, false }}

// otherRequest is a core.Request of no adapter.
type otherRequest struct{}

func (otherRequest) Context() context.Context { return context.Background() }
func (otherRequest) Method() string           { return "POST" }
func (otherRequest) Path() string             { return "/items/1" }
func (otherRequest) Route() string            { return "/items/:id" }
func (otherRequest) RawQuery() string         { return "" }
func (otherRequest) Header(string) []string   { return nil }
func (otherRequest) ClientIP() string         { return "127.0.0.1" }
func (otherRequest) Value(string) any         { return nil }

var hookCases = []struct {
	name string
	run  func(t *testing.T, e *env, h TypedHooks)
}{
	{"Skipper", func(t *testing.T, e *env, h TypedHooks) {
		e.start(h.SkipIfHeader("X-Skip"))
		skip := [][2]string{{"X-Skip", "1"}}
		for i := 0; i < 2; i++ {
			wantStatus(t, e.do(req{key: k1, body: payment, headers: skip}), 201, "")
		}
		e.wantCount("items", 2)
		// Not skipped without the header, and a skipped request left no
		// record behind.
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		e.wantCount("items", 3)
	}},
	{"UserGetter", func(t *testing.T, e *env, h TypedHooks) {
		// X-Hook-User, not the harness's X-User-ID: only the getter can
		// tell the users apart (the suite's default reads "user").
		e.start(core.WithScope(core.ScopeUser), h.UserFromHeader("X-Hook-User"))
		as := func(u string) [][2]string { return [][2]string{{"X-Hook-User", u}} }
		wantStatus(t, e.do(req{key: k1, body: payment, headers: as("alice")}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, headers: as("bob")}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original") // anonymous
		wantStatus(t, e.do(req{key: k1, body: payment, headers: as("alice")}), 201, "Repeated")
		e.wantCount("items", 3)
	}},
	{"ScopeGetter", func(t *testing.T, e *env, h TypedHooks) {
		e.start(h.ScopeFromHeader("X-Tenant"))
		tenant := func(s string) [][2]string { return [][2]string{{"X-Tenant", s}} }
		wantStatus(t, e.do(req{key: k1, body: payment, headers: tenant("t1")}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, headers: tenant("t2")}), 201, "Original")
		// The tenant is the whole scope: another user of t1 replays.
		wantStatus(t, e.do(req{key: k1, body: payment, headers: tenant("t1"), user: "bob"}), 201, "Repeated")
		e.wantCount("items", 2)
		// The getter's error is the server's: 500, and the handler never runs.
		wantProblem(t, e.do(req{key: k1, body: payment}), 500, core.ProblemScope)
		e.wantCount("items", 2)
	}},
	{"KeyGetter", func(t *testing.T, e *env, h TypedHooks) {
		e.start(h.KeyFromQuery("key"))
		wantStatus(t, e.do(req{body: payment, path: "/items/1?key=" + k1}), 201, "Original")
		wantStatus(t, e.do(req{body: payment, path: "/items/1?key=" + k1}), 201, "Repeated")
		// The header is not read any more: its key is no key.
		wantProblem(t, e.do(req{key: k2, body: payment}), 400, core.ProblemMissingKey)
		// The getter's key is validated like any other (UUID by default).
		wantProblem(t, e.do(req{body: payment, path: "/items/1?key=not-a-uuid"}), 400, core.ProblemInvalidKey)
		e.wantCount("items", 1)

		e.start(h.KeyFromQuery("key"), core.WithOptional(true))
		for i := 0; i < 2; i++ {
			wantStatus(t, e.do(req{body: payment}), 201, "")
		}
		wantStatus(t, e.do(req{body: payment, path: "/items/1?key=" + k2}), 201, "Original")
		e.wantCount("items", 3)
	}},
	{"Context", func(t *testing.T, e *env, h TypedHooks) {
		var seen, found atomic.Int32
		e.start(core.WithSkip(func(r core.Request) bool {
			seen.Add(1)
			if h.HasContext(r) {
				found.Add(1)
			}
			return false
		}))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		if seen.Load() != 1 || found.Load() != 1 {
			t.Fatalf("Context(r) was not nil in %d of %d skip calls, want 1 of 1", found.Load(), seen.Load())
		}
		if h.HasContext(otherRequest{}) {
			t.Fatal("Context(r) is not nil for another framework's request")
		}
	}},
	// Typed options of another framework: they never see a context of
	// theirs, so they cannot apply; each fails towards safety.
	{"ForeignSkipperNeverSkips", func(t *testing.T, e *env, _ TypedHooks) {
		e.start(foreign.Skipper(func(int) bool { return true }))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{"ForeignUserGetterIs500", func(t *testing.T, e *env, _ TypedHooks) {
		// A user getter that cannot read the request must not make every
		// user anonymous: alice's and bob's keys would share one space,
		// and bob would be replayed alice's response.
		for _, scope := range []core.Scope{core.ScopeUser, core.ScopeUserRoute} {
			e.start(core.WithScope(scope), foreign.UserGetter(func(int) string { return "x" }))
			wantProblem(t, e.do(req{key: k1, body: payment, user: "alice"}), 500, core.ProblemMisconfigured)
			wantProblem(t, e.do(req{key: k1, body: payment, user: "bob"}), 500, core.ProblemMisconfigured)
			e.wantCount("items", 0)
		}
		// Scopes that do not read the user are unaffected.
		e.start(core.WithScope(core.ScopeGlobal), foreign.UserGetter(func(int) string { return "x" }))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		e.wantCount("items", 1)
	}},
	{"ForeignScopeGetterIs500", func(t *testing.T, e *env, _ TypedHooks) {
		e.start(foreign.ScopeGetter(func(int) (string, error) { return "tenant", nil }))
		wantProblem(t, e.do(req{key: k1, body: payment}), 500, core.ProblemMisconfigured)
		e.wantCount("items", 0)
	}},
	{"ForeignKeyGetterIs500", func(t *testing.T, e *env, _ TypedHooks) {
		// A misconfiguration is the server's fault, never the client's.
		e.start(foreign.KeyGetter(func(int) (string, bool, error) { return k1, true, nil }))
		r := e.do(req{key: k1, body: payment})
		wantProblem(t, r, 500, core.ProblemMisconfigured)
		if !strings.Contains(string(r.Body), "another framework") {
			t.Fatalf("detail does not say why (core.ErrForeignRequest): %s", r.Body)
		}
		e.wantCount("items", 0)
	}},
}
