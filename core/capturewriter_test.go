package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idemkit/idempotency/core"
)

// CaptureWriter reports the final status as net/http would send it:
// informational 1xx before it are not the response (101 is), a Write
// without a status is a 200, and a later WriteHeader changes nothing.
// Everything passes through to the writer underneath, and the body is
// kept. Seen failing with 101 not counted as a final status.
func TestCaptureWriterStatus(t *testing.T) {
	cases := []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 0},
		{"write only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("hi")) }, http.StatusOK},
		{"early hints then created", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("hi"))
		}, http.StatusCreated},
		{"switching protocols", func(w http.ResponseWriter) { w.WriteHeader(http.StatusSwitchingProtocols) }, http.StatusSwitchingProtocols},
		{"status after write", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("hi"))
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusOK},
		{"second status", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusAccepted},
	}
	var w core.CaptureWriter // reused, as adapters pool it
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w.ResponseWriter = rec
			w.Start(context.Background(), 1<<10, rec)
			tc.write(&w)
			if got := w.Status(); got != tc.want {
				t.Fatalf("Status() = %d, want %d", got, tc.want)
			}
			capd := w.Captured(w.Status(), rec.Header())
			if string(capd.Body) != rec.Body.String() || capd.Streamed {
				t.Fatalf("captured %q (streamed %v), the client got %q", capd.Body, capd.Streamed, rec.Body)
			}
			if http.NewResponseController(&w).Flush() != nil || !w.Captured(0, nil).Streamed || !rec.Flushed {
				t.Fatal("Flush did not reach the writer underneath or did not mark the response streamed")
			}
			if w.Unwrap() != rec {
				t.Fatal("Unwrap does not return the writer underneath")
			}
		})
	}
}
