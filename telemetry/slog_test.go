package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/telemetry"
)

func TestSlogEventLevelsAndAttrs(t *testing.T) {
	var buf bytes.Buffer
	d := telemetry.NewSlog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx := context.Background()
	d.Event(ctx, &core.Event{Type: core.EventStoreUnavailable, Scope: "user_route", Key: "h:abc", Method: "POST",
		Route: "/p", Status: 503, Err: errors.New("dial tcp: refused"), Detail: "fail closed"})
	d.Event(ctx, &core.Event{Type: core.EventPayloadMismatch, Key: "h:def", Status: 422})
	d.Event(ctx, &core.Event{Type: core.EventMissingKey})
	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeOriginal, HandlerTime: time.Millisecond}) // Debug: filtered

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`level=ERROR msg="idempotency: STORE_UNAVAILABLE: fail closed" event=STORE_UNAVAILABLE scope=user_route key=h:abc method=POST route=/p status=503 error="dial tcp: refused"`,
		`level=WARN msg="idempotency: PAYLOAD_MISMATCH" event=PAYLOAD_MISMATCH scope="" key=h:def status=422`,
		`level=INFO msg="idempotency: MISSING_KEY" event=MISSING_KEY scope=""`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s\nwant it to contain %s", i, lines[i], want)
		}
	}
}

func TestSlogMeasuresAtDebug(t *testing.T) {
	var buf bytes.Buffer
	d := telemetry.NewSlog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	d.Measure(context.Background(), &core.Measurement{Outcome: core.OutcomeRepeated, Method: "POST", Route: "/p", Status: 201, ResponseSize: 12})
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "outcome=repeated") || !strings.Contains(got, "response_size=12") {
		t.Fatalf("measurement log = %q", got)
	}
}

func TestCatalogueIsComplete(t *testing.T) {
	seen := map[core.EventType]bool{}
	for _, ev := range telemetry.Catalogue {
		if seen[ev] {
			t.Fatalf("%s listed twice", ev)
		}
		seen[ev] = true
	}
	// Every EventType constant core declares must be listed.
	f, err := parser.ParseFile(token.NewFileSet(), "../core/telemetry.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventType" {
				continue
			}
			lit := vs.Values[0].(*ast.BasicLit)
			name, _ := strconv.Unquote(lit.Value)
			declared++
			if !seen[core.EventType(name)] {
				t.Errorf("%s (core.%s) is missing from the catalogue", name, vs.Names[0].Name)
			}
		}
	}
	if declared != len(seen) {
		t.Fatalf("catalogue has %d events, core declares %d", len(seen), declared)
	}
}
