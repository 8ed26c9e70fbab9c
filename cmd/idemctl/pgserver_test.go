package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pgtest starts one private PostgreSQL cluster for idemctl's PostgreSQL
// tests, as storage/postgres/internal/pgtest does for idempg's (a minimal
// copy: idemctl cannot import that internal package, and must not require
// an unpublished module; see redisserver_test.go). initdb into a fresh
// temp dir, postgres on a free loopback port; run as root (CI containers),
// both run as an unprivileged user through SysProcAttr.Credential, since
// they refuse root. The server starts with the first test that needs it
// and stops in TestMain. Without the binaries ($PGTEST_BIN, then the
// newest /usr/lib/postgresql/*/bin, then PATH) the tests skip, or fail
// when CI=true: CI never passes by testing nothing.
var pgtest pgHarness

type pgHarness struct {
	once sync.Once
	srv  *pgServer
	err  error
}

// errNoPGBinaries: no initdb/postgres found.
var errNoPGBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found; apt-get install postgresql, or set PGTEST_BIN")

// pgServer is a running private cluster.
type pgServer struct {
	dsn  string
	dir  string // temp dir: data/ and the unix socket
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// DSN returns the server's URL, starting it on first use; it skips t
// without binaries (fails it when CI=true).
func (h *pgHarness) DSN(t testing.TB) string {
	t.Helper()
	h.once.Do(func() { h.srv, h.err = startPG() })
	switch {
	case errors.Is(h.err, errNoPGBinaries) && os.Getenv("CI") != "true":
		t.Skip(h.err)
	case h.err != nil:
		t.Fatal(h.err)
	}
	return h.srv.dsn
}

// stop stops the server, if one was started (TestMain).
func (h *pgHarness) stop() {
	if h.srv != nil {
		h.srv.stop()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.stop()
	os.Exit(code)
}

func pgBinDir() (string, error) {
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("%w (PGTEST_BIN=%s)", errNoPGBinaries, d)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // numeric: 9.6 < 15 < 16
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoPGBinaries
}

// pgCredential is the unprivileged identity to run as when we are root:
// $PGTEST_USER, else postgres, else nobody; nil when not root.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	names := []string{"postgres", "nobody"}
	if u := os.Getenv("PGTEST_USER"); u != "" {
		names = []string{u}
	}
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		if uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("running as root and none of %v exists to run postgres as", names)
}

func pgCommand(bin string, cred *syscall.Credential, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"LC_ALL=C", "HOME=" + dir, "PATH=" + filepath.Dir(bin) + ":/usr/bin:/bin", "TZ=UTC"}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,            // a ^C to go test does not hit it first
		Pdeathsig:  syscall.SIGKILL, // best effort should the test binary die
	}
	return cmd
}

func startPG() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-") // /tmp is 1777: traversable by the user
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir, log: new(bytes.Buffer)}
	fail := func(err error) (*pgServer, error) { _ = os.RemoveAll(dir); return nil, err }
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	init := pgCommand(filepath.Join(bin, "initdb"), cred, dir,
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if out, err := init.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		s.log.Reset()
		cmd := pgCommand(filepath.Join(bin, "postgres"), cred, dir,
			"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+dir, // short path: sun_path is 107 bytes
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "shared_buffers=16MB", "-c", "log_min_messages=warning", "-c", "logging_collector=off")
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Start(); err != nil {
			return fail(err)
		}
		s.cmd, s.done = cmd, make(chan error, 1)
		go func() { s.done <- cmd.Wait() }()
		if err = s.waitReady(10 * time.Second); err == nil {
			s.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return s, nil
		}
		s.kill()
		if attempt == 2 || !strings.Contains(s.log.String(), "could not bind") {
			return fail(fmt.Errorf("postgres did not start: %v\n%s", err, s.log))
		}
	}
}

// waitReady waits for line 8 of postmaster.pid to say "ready" (pg_ctl's
// own test): a TCP dial succeeds while the server still answers 57P03
// "starting up".
func (s *pgServer) waitReady(max time.Duration) error {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("postgres exited: %v", err)
		default:
		}
		if b, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
			if l := strings.Split(string(b), "\n"); len(l) > 7 && strings.TrimSpace(l[7]) == "ready" {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("timeout")
}

func (s *pgServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// stop shuts the server down (SIGQUIT: immediate) and removes its dir.
func (s *pgServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
	_ = os.RemoveAll(s.dir)
}
