package idemhttp_test

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	idemhttp "github.com/idemkit/idempotency/nethttp"
	"github.com/idemkit/idempotency/storage/memory"
)

// serveTwice runs h under a route-level middleware on a real server and sends
// the same keyed POST twice, returning both responses' status,
// Idempotency-Status and body.
func serveTwice(t *testing.T, h http.HandlerFunc) [2][3]string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /r", idemhttp.New(core.WithStore(memory.New()))(h))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the superfluous WriteHeader calls of TestStatus
	srv.Start()
	defer srv.Close()
	var out [2][3]string
	for i := range out {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/r", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out[i] = [3]string{resp.Status[:3], resp.Header.Get("Idempotency-Status"), string(b)}
	}
	return out
}

func wantReplies(t *testing.T, got [2][3]string, want ...[3]string) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d: %q, want %q", i+1, got[i], want[i])
		}
	}
}

// The writer a handler gets keeps the server writer's abilities: the
// http.Flusher and http.Hijacker assertions hold, http.ResponseController
// reaches deadlines and full duplex through Unwrap. It is no
// io.ReaderFrom, so io.Copy writes through Write and the body is kept.
func TestWriterAbilities(t *testing.T) {
	var errs []string
	got := serveTwice(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			errs = append(errs, "not an http.Flusher")
		}
		if _, ok := w.(http.Hijacker); !ok {
			errs = append(errs, "not an http.Hijacker")
		}
		if _, ok := w.(io.ReaderFrom); ok {
			errs = append(errs, "an io.ReaderFrom: io.Copy would bypass the capture")
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			errs = append(errs, "SetWriteDeadline: "+err.Error())
		}
		if err := rc.EnableFullDuplex(); err != nil {
			errs = append(errs, "EnableFullDuplex: "+err.Error())
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "via ")
		_, _ = io.Copy(w, strings.NewReader("io.Copy"))
	})
	for _, e := range errs {
		t.Error(e)
	}
	wantReplies(t, got, [3]string{"201", "Original", "via io.Copy"}, [3]string{"201", "Repeated", "via io.Copy"})
}

// http.ServeContent copies the content with io.Copy; the server's writer
// would take it through ReadFrom (sendfile for files), past the capture.
func TestServeContentIsCaptured(t *testing.T) {
	got := serveTwice(t, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "a.txt", time.Time{}, strings.NewReader("served content"))
	})
	wantReplies(t, got, [3]string{"200", "Original", "served content"}, [3]string{"200", "Repeated", "served content"})
}

// Informational responses (103 Early Hints) go out before the response;
// the status stored is the final one. A handler that writes nothing
// answers 200, as net/http does.
func TestStatus(t *testing.T) {
	got := serveTwice(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusTeapot) // superfluous: net/http ignores it
		_, _ = w.Write([]byte("accepted"))
	})
	wantReplies(t, got, [3]string{"202", "Original", "accepted"}, [3]string{"202", "Repeated", "accepted"})

	got = serveTwice(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
		w.WriteHeader(http.StatusTeapot) // after the body: net/http ignores it
	})
	wantReplies(t, got, [3]string{"200", "Original", "ok"}, [3]string{"200", "Repeated", "ok"})

	got = serveTwice(t, func(http.ResponseWriter, *http.Request) {})
	wantReplies(t, got, [3]string{"200", "Original", ""}, [3]string{"200", "Repeated", ""})
}

// A flushed response (Flush, ResponseController.Flush) or a hijacked
// connection is delivered as it goes and never stored: the retry gets
// 410 result-unavailable, the handler not run again.
func TestStreamedIsNotStored(t *testing.T) {
	for name, flush := range map[string]func(w http.ResponseWriter){
		"Flush":              func(w http.ResponseWriter) { w.(http.Flusher).Flush() },
		"ResponseController": func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() },
	} {
		runs := 0
		got := serveTwice(t, func(w http.ResponseWriter, r *http.Request) {
			runs++
			_, _ = w.Write([]byte("part 1 "))
			flush(w)
			_, _ = w.Write([]byte("part 2"))
		})
		if got[0] != [3]string{"200", "Original", "part 1 part 2"} || got[1][0] != "410" || runs != 1 {
			t.Errorf("%s: replies %q, %d runs; want the stream once, then 410", name, got, runs)
		}
	}

	runs := 0
	mux := http.NewServeMux()
	mux.Handle("POST /r", idemhttp.New(core.WithStore(memory.New()))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = brw.Flush()
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for i, want := range []string{"200 hijacked", "410"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/r", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", key)
		req.Close = true
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(bufio.NewReader(resp.Body))
		resp.Body.Close()
		if got := strings.TrimSpace(resp.Status[:3] + " " + string(b)); !strings.HasPrefix(got, want) {
			t.Errorf("hijacked, request %d: %q, want %q", i+1, got, want)
		}
	}
	if runs != 1 {
		t.Errorf("hijacking handler ran %d times, want once", runs)
	}
}

// Scope ip is the host of RemoteAddr: one client on two connections
// (ports) is one client, two clients are two scopes.
func TestClientIP(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("POST /r", idemhttp.New(core.WithStore(memory.New()), core.Tag("scope=ip"))(http.HandlerFunc(created)))
	for _, tc := range []struct{ addr, idem string }{
		{"192.0.2.1:1111", "Original"},
		{"192.0.2.1:2222", "Repeated"},
		{"192.0.2.2:1111", "Original"},
		{"[2001:db8::1]:1111", "Original"},
		{"[2001:db8::1]:2222", "Repeated"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/r", strings.NewReader(`{}`))
		req.RemoteAddr = tc.addr
		req.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if got := w.Header().Get("Idempotency-Status"); got != tc.idem {
			t.Errorf("%s: %q, want %q", tc.addr, got, tc.idem)
		}
	}
}
