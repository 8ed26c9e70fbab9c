// Package servertest runs the example servers as their users do, for the
// end-to-end tests (examples/e2e) and the fault suite (examples/faults):
// it builds the binaries of examples/gin, examples/echo and
// examples/fiber (and cmd/idemctl) once per test binary, starts them as
// processes on loopback ports, and talks HTTP to them.
package servertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/examples/internal/shop"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Cleanup removes the built binaries. A package's TestMain calls it
// after m.Run.
func Cleanup() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// examplesDir returns the directory of the examples module: the module
// of the working directory, which go test sets to a package's directory.
func examplesDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	dir := filepath.Dir(mod)
	if _, err := os.Stat(filepath.Join(dir, "gin", "main.go")); err != nil {
		return "", fmt.Errorf("%s is not the examples module: %w", dir, err)
	}
	return dir, nil
}

// Binary returns the path of the example server name (gin, echo, fiber).
// The first call builds all three with one go build, in the examples
// module.
func Binary(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		if _, err := exec.LookPath("go"); err != nil {
			buildErr = fmt.Errorf("the go command is needed to build the example servers: %w", err)
			return
		}
		dir, err := examplesDir()
		if err != nil {
			buildErr = err
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "idemkit-servers-"); buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", binDir+string(filepath.Separator), "./gin", "./echo", "./echov5", "./fiber", "./nethttp")
		cmd.Dir = dir
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
		t.Logf("built the example servers in %v", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

var (
	idemctlOnce sync.Once
	idemctlPath string
	idemctlErr  error
)

// Idemctl returns the path of the operator CLI (cmd/idemctl), built once
// into the servers' directory. It is its own module, which requires the
// released root module, so it is built in the repository's workspace
// (go.work), even when the tests run with GOWORK=off.
func Idemctl(t testing.TB) string {
	t.Helper()
	Binary(t, "gin") // makes binDir
	idemctlOnce.Do(func() {
		dir, err := examplesDir()
		if err != nil {
			idemctlErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		idemctlPath = filepath.Join(binDir, "idemctl")
		cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", idemctlPath, ".")
		cmd.Dir = filepath.Join(dir, "..", "cmd", "idemctl")
		cmd.Env = append(os.Environ(), "GOWORK=")
		if out, err := cmd.CombinedOutput(); err != nil {
			idemctlErr = fmt.Errorf("go build cmd/idemctl: %v\n%s", err, out)
		}
	})
	if idemctlErr != nil {
		t.Fatal(idemctlErr)
	}
	return idemctlPath
}

// Server is one example server process.
type Server struct {
	Name string
	Base string // http://127.0.0.1:port
	Cmd  *exec.Cmd
	Log  *LogWriter
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, once done
}

// Env is the environment a server starts with: the test's, without the
// variables that configure the example servers (REDIS_URL, DATABASE_URL,
// IDEMKIT_*),
// so that only the arguments (and extra, "NAME=value" entries) count.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "IDEMKIT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Start starts the example server name with -addr 127.0.0.1:0 and args,
// reads the bound address from its "listening" log line, waits until
// GET /stats answers, and stops the process when the test ends.
func Start(t testing.TB, name string, args ...string) *Server {
	t.Helper()
	return StartEnv(t, name, nil, args...)
}

// StartEnv is Start with extra environment variables ("NAME=value").
func StartEnv(t testing.TB, name string, env []string, args ...string) *Server {
	t.Helper()
	s := &Server{Name: name, Log: newLogWriter(), done: make(chan struct{})}
	s.Cmd = exec.Command(Binary(t, name), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	s.Cmd.Env = Env(env...)
	s.Cmd.Stdout, s.Cmd.Stderr = s.Log, s.Log
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.Cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.Stop(t) })

	select {
	case addr := <-s.Log.addr:
		s.Base = "http://" + addr
	case <-s.done:
		t.Fatalf("%s exited at start-up (%v):\n%s", name, s.err, s.Log)
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not log its address within 15s:\n%s", name, s.Log)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Stats(); err == nil {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("%s at %s does not answer GET /stats: %v\n%s", name, s.Base, err, s.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the process's exit error, once Done is closed.
func (s *Server) Err() error {
	<-s.done
	return s.err
}

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL (no clean-up, as a crash) and waits for the exit.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if err := s.Cmd.Process.Kill(); err != nil && !s.Exited() {
		t.Fatal(err)
	}
	<-s.done
}

// Stop sends SIGTERM and waits for a graceful exit, killing the process
// after 10 seconds. It returns the exit error (nil for status 0).
func (s *Server) Stop(t testing.TB) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	default:
	}
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.Cmd.Process.Kill()
		<-s.done
		t.Errorf("%s did not stop within 10s of SIGTERM; killed", s.Name)
	}
	return s.err
}

var statsClient = &http.Client{Timeout: 5 * time.Second}

// Stats reads GET /stats.
func (s *Server) Stats() (shop.Counts, error) {
	resp, err := statsClient.Get(s.Base + "/stats")
	if err != nil {
		return shop.Counts{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return shop.Counts{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return shop.Counts{}, fmt.Errorf("GET /stats: %d %s", resp.StatusCode, b)
	}
	var snap shop.Snapshot
	if err := sonic.ConfigStd.Unmarshal(b, &snap); err != nil {
		return shop.Counts{}, err
	}
	return snap.Executions, nil
}

// MustStats is Stats, failing the test on an error.
func (s *Server) MustStats(t testing.TB) shop.Counts {
	t.Helper()
	c, err := s.Stats()
	if err != nil {
		t.Fatalf("%s: %v\n%s", s.Name, err, s.Log)
	}
	return c
}

// Metrics reads GET /metrics.
func (s *Server) Metrics(c *http.Client) (string, error) {
	resp, err := c.Get(s.Base + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return string(b), err
}

// WaitRunning waits until s's payment handler has started n times.
func (s *Server) WaitRunning(t testing.TB, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.MustStats(t).Payments < n {
		if time.Now().After(deadline) {
			t.Fatalf("the payment handler did not start:\n%s", s.Log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reply is a response, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   string
}

// Idem is the reply's Idempotency-Status.
func (r Reply) Idem() string { return r.Header.Get("Idempotency-Status") }

func (r Reply) String() string {
	return fmt.Sprintf("%d Idempotency-Status=%q Retry-After=%q %s", r.Status, r.Idem(), r.Header.Get("Retry-After"), r.Body)
}

// PaymentBody is the body Pay sends.
const PaymentBody = `{"amount":1000,"currency":"EUR"}`

// Pay sends POST path (e.g. /payments?delay=300ms) with key (none when
// empty) and PaymentBody, as alice.
func Pay(ctx context.Context, c *http.Client, base, path, key string) (Reply, error) {
	return Post(ctx, c, base, path, key, PaymentBody)
}

// Post sends POST path with key (none when empty) and a JSON body, as
// alice.
func Post(ctx context.Context, c *http.Client, base, path, key, body string) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return Reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set(shop.UserHeader, "alice")
	resp, err := c.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

var keySeq struct {
	sync.Mutex
	n int
}

// NewKey returns a UUID no other request of this test binary used.
func NewKey() string {
	keySeq.Lock()
	defer keySeq.Unlock()
	keySeq.n++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, keySeq.n)
}

// LogWriter collects a process's output and spots the "listening" line.
type LogWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	addr    chan string
	found   bool
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func newLogWriter() *LogWriter { return &LogWriter{addr: make(chan string, 1)} }

func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.found {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		if m := listening.FindSubmatch(line); m != nil {
			w.found, w.partial = true, nil
			w.addr <- string(m[1])
			break
		}
	}
	return len(p), nil
}

func (w *LogWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// ExitCode returns the exit status behind a cmd.Wait error.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
