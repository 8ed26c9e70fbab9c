package e2e

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

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the path of the example server name (gin, echo, fiber).
// The first call builds all three with one go build, from the examples
// module's directory (the parent of this package's).
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go command is needed to build the example servers: %w", err)
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "idemkit-e2e-"); buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-ldflags=-s -w", "-o", binDir+string(filepath.Separator), "./gin", "./echo", "./fiber")
		cmd.Dir = ".."
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

// idemctl returns the path of the operator CLI (cmd/idemctl), built once
// into the servers' directory. It is its own module, which requires the
// released root module, so it is built in the repository's workspace
// (go.work), even when the tests run with GOWORK=off.
func idemctl(t *testing.T) string {
	t.Helper()
	binary(t, "gin") // makes binDir
	idemctlOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		idemctlPath = filepath.Join(binDir, "idemctl")
		cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", idemctlPath, ".")
		cmd.Dir = filepath.Join("..", "..", "cmd", "idemctl")
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

// server is one example server process.
type server struct {
	name string
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	log  *logWriter
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, once done
}

// startServer starts the example server name with -addr 127.0.0.1:0 and
// args, reads the bound address from its "listening" log line, waits
// until GET /stats answers, and stops the process when the test ends.
func startServer(t *testing.T, name string, args ...string) *server {
	t.Helper()
	s := &server{name: name, log: newLogWriter(), done: make(chan struct{})}
	s.cmd = exec.Command(binary(t, name), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = append(os.Environ(), "REDIS_URL=") // only what args say
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })

	select {
	case addr := <-s.log.addr:
		s.base = "http://" + addr
	case <-s.done:
		t.Fatalf("%s exited at start-up (%v):\n%s", name, s.err, s.log)
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not log its address within 15s:\n%s", name, s.log)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.stats(); err == nil {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("%s at %s does not answer GET /stats: %v\n%s", name, s.base, err, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a graceful exit, killing the process
// after 10 seconds. It returns the exit error (nil for status 0).
func (s *server) stop(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("%s did not stop within 10s of SIGTERM; killed", s.name)
	}
	return s.err
}

var statsClient = &http.Client{Timeout: 5 * time.Second}

// stats reads GET /stats.
func (s *server) stats() (shop.Counts, error) {
	resp, err := statsClient.Get(s.base + "/stats")
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

func (s *server) mustStats(t *testing.T) shop.Counts {
	t.Helper()
	c, err := s.stats()
	if err != nil {
		t.Fatalf("%s: %v\n%s", s.name, err, s.log)
	}
	return c
}

// reply is a response, read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) idem() string { return r.header.Get("Idempotency-Status") }

func (r reply) String() string {
	return fmt.Sprintf("%d Idempotency-Status=%q Retry-After=%q %s", r.status, r.idem(), r.header.Get("Retry-After"), r.body)
}

// pay sends POST path (e.g. /payments?delay=300ms) with key (none when
// empty) and a payment, as alice.
func pay(ctx context.Context, c *http.Client, base, path, key string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(`{"amount":1000,"currency":"EUR"}`))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set(shop.UserHeader, "alice")
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

var keySeq struct {
	sync.Mutex
	n int
}

// newKey returns a UUID no other request of this test binary used.
func newKey() string {
	keySeq.Lock()
	defer keySeq.Unlock()
	keySeq.n++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, keySeq.n)
}

// logWriter collects a process's output and spots the "listening" line.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	addr    chan string
	found   bool
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func newLogWriter() *logWriter { return &logWriter{addr: make(chan string, 1)} }

func (w *logWriter) Write(p []byte) (int, error) {
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

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// exitCode returns the exit status behind a cmd.Wait error.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
