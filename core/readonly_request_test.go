package core_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/idemkit/idempotency/core"
)

// Extension points get the read-only core.Request, never the Exchange:
// a key extractor that could call Next or Reply could run the handler
// outside the claim. Each hook type-asserts what it is given, through the
// fake, whose Request() is a distinct view type as the adapters' are.
func TestExtensionPointsSeeOnlyTheRequest(t *testing.T) {
	seen := map[string]int{}
	check := func(hook string, r core.Request) {
		seen[hook]++
		if _, ok := r.(core.Exchange); ok {
			t.Errorf("%s got a core.Exchange (%T)", hook, r)
		}
		if r.Method() != http.MethodPost || r.Route() != "/items/:id" || r.Value("user") != "alice" {
			t.Errorf("%s: the view reads %s %s user %v, want the request's", hook, r.Method(), r.Route(), r.Value("user"))
		}
	}
	hooks := []core.Option{
		core.WithSkip(func(r core.Request) bool { check("skip", r); return false }),
		core.WithKeyExtractor(core.KeyExtractorFunc(func(r core.Request) (string, bool, error) {
			check("key extractor", r)
			return core.HeaderKey(core.DefaultHeaderName).ExtractKey(r)
		})),
		core.WithErrorResponder(core.ErrorResponderFunc(func(r core.Request, p *core.Problem) (core.Response, error) {
			check("error responder", r)
			return core.ProblemResponder{}.RespondError(r, p)
		})),
	}
	users := core.WithUserResolver(func(r core.Request) string { check("user resolver", r); return "alice" })
	scopes := core.WithScopeResolver(core.ScopeResolverFunc(func(r core.Request) (string, error) {
		check("scope resolver", r)
		return "tenant-1", nil
	}))
	for _, opts := range [][]core.Option{slices.Concat(hooks, []core.Option{users}), slices.Concat(hooks, []core.Option{scopes})} {
		e := newEngine(t, opts...)
		for _, key := range []string{"k", ""} { // an original, then a refusal
			if p, _ := serve(e, post(key, payment).by("alice")); p != nil {
				t.Fatal(p)
			}
		}
		_ = e.Close(context.Background())
	}
	for _, hook := range []string{"skip", "key extractor", "error responder", "user resolver", "scope resolver"} {
		if seen[hook] == 0 {
			t.Errorf("%s never ran: nothing checked what it is given", hook)
		}
	}
}
