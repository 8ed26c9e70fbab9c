package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// TestDemo runs exactly what `go run ./examples/demo` runs and requires
// every framework to behave as the table says it should.
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
	for _, fw := range frameworks {
		if !strings.Contains(out.String(), fw.name+": OK") {
			t.Errorf("no OK verdict for %s", fw.name)
		}
	}
	if !strings.Contains(out.String(), fmt.Sprintf("1 Original, %d Repeated", duplicates-1)) {
		t.Error("concurrent duplicates row missing")
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
