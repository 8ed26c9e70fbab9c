package apptest

import (
	"net/http"
	"slices"
	"testing"

	"github.com/idemkit/idempotency/examples/internal/shop"
)

// CheckRoutes checks that a server registers exactly shop.Routes() and
// GET /metrics; got lists its routes as "METHOD /path". Each server wires
// its routes in its own main.go, so this, with Run and RunEffects on the
// server's router, is what keeps the servers and the demo's apps from
// drifting apart.
func CheckRoutes(t *testing.T, got []string) {
	t.Helper()
	want := []string{http.MethodGet + " /metrics"}
	for _, rt := range shop.Routes() {
		want = append(want, rt.Method+" "+rt.Path)
	}
	slices.Sort(want)
	got = slices.Sorted(slices.Values(got))
	if !slices.Equal(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
}
