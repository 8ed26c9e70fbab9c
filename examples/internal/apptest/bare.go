package apptest

import (
	"strings"
	"testing"
)

// RunBare checks the -bare benchmark baseline (serve.Config.Bare) of an
// example server: POST /payments answers as the handler does (201,
// Location, Set-Cookie) with no Idempotency-Status, and runs every time,
// the same key too, since nothing deduplicates. app must be built with
// Bare set; executions reads the server's payments counter.
func RunBare(t *testing.T, app App, executions func() int64) {
	t.Helper()
	var ids []string
	for range 2 {
		r := Do(app, "POST", "/payments", `{"amount":1000,"currency":"EUR"}`, "Idempotency-Key", Key, "X-User-ID", "alice")
		if r.Code != 201 || r.Header.Get("Idempotency-Status") != "" ||
			!strings.HasPrefix(r.Header.Get("Location"), "/payments/pay_") || r.Header.Get("Set-Cookie") == "" ||
			r.Header.Get("X-Request-Id") == "" {
			t.Fatalf("bare POST /payments: %d %v %s", r.Code, r.Header, r.Body)
		}
		ids = append(ids, r.Header.Get("Location"))
	}
	if ids[0] == ids[1] {
		t.Errorf("bare: the same key answered %s twice, want two runs", ids[0])
	}
	if n := executions(); n != 2 {
		t.Errorf("bare: %d executions, want 2", n)
	}
}
