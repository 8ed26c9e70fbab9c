package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
	if len(seen) != 12 {
		t.Fatalf("catalogue has %d events, want the 11 of SPEC §5 so far plus GLOBAL_SCOPE_WITH_USER", len(seen))
	}
}
