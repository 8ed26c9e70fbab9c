// Package pgtest starts a private, throwaway PostgreSQL cluster for the
// tests of idempg: initdb into a fresh temp dir, postgres on a free
// loopback port, removed on Stop. Run as root (CI containers), the server
// runs as an unprivileged user through syscall.Credential (initdb and
// postgres refuse root); no su/runuser/setpriv is needed.
//
// One server per test binary (Main, from TestMain) costs about a second;
// tests isolate themselves by keys or table prefixes, not servers.
// Without the server binaries the tests skip, unless CI=true: then they
// fail, so that CI never passes by testing nothing.
package pgtest

import (
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"
)

// ErrNoBinaries is returned when no initdb/postgres is found. Callers skip
// on it, unless CI=true, where they must fail (Required).
var ErrNoBinaries = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found; apt-get install postgresql, or set PGTEST_BIN")

// Server is a running private cluster.
type Server struct {
	DSN  string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	Port int
	Dir  string // temp dir: data/ and the unix socket
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// BinDir finds the server binaries: $PGTEST_BIN, then the newest
// /usr/lib/postgresql/*/bin (Debian keeps them off PATH), then PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("%w (PGTEST_BIN=%s)", ErrNoBinaries, d)
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
	return "", ErrNoBinaries
}

// credential returns the unprivileged identity to run as when we are
// root: $PGTEST_USER, else "postgres" (created by Debian's
// postgresql-common), else "nobody". nil when not root.
func credential() (*syscall.Credential, error) {
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
	return nil, fmt.Errorf("pgtest: running as root and none of %v exists to run postgres as", names)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

func command(bin string, cred *syscall.Credential, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"LC_ALL=C", "HOME=" + dir, "PATH=" + filepath.Dir(bin) + ":/usr/bin:/bin", "TZ=UTC"}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,            // own process group: a ^C to go test does not hit it first
		Pdeathsig:  syscall.SIGKILL, // best effort if the test binary dies (see note)
	}
	return cmd
}

// Start initialises and starts a cluster. Stop it with Stop.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	sweep()
	dir, err := os.MkdirTemp("", "pgtest-") // /tmp is 1777: traversable by the user
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, log: new(bytes.Buffer)}
	fail := func(err error) (*Server, error) { _ = os.RemoveAll(dir); return nil, err }
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	init := command(filepath.Join(bin, "initdb"), cred, dir,
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
		"--no-sync", "--no-instructions")
	if out, err := init.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %v\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		s.Port = port
		s.log.Reset()
		cmd := command(filepath.Join(bin, "postgres"), cred, dir,
			"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+dir, // short path: sun_path is 107 bytes
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB",
			"-c", "log_min_messages=warning", "-c", "logging_collector=off",
		)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Start(); err != nil {
			return fail(err)
		}
		s.cmd, s.done = cmd, make(chan error, 1)
		go func() { s.done <- cmd.Wait() }()
		err = s.waitReady(10 * time.Second)
		if err == nil {
			break
		}
		s.kill()
		if attempt == 2 || !strings.Contains(s.log.String(), "could not bind") {
			return fail(fmt.Errorf("pgtest: postgres did not start: %v\n%s", err, s.log))
		}
	}
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	return s, nil
}

// waitReady dials the port until postgres accepts TCP connections and
// answers a startup packet (dial alone can win against "starting up").
func (s *Server) waitReady(max time.Duration) error {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("postgres exited: %v", err)
		default:
		}
		// pg_ctl's own test: line 8 of postmaster.pid is the postmaster's
		// status, "ready" once it accepts connections (PostgreSQL >= 10).
		// A TCP dial or the socket file is not enough: both exist while
		// the server still answers 57P03 "starting up".
		if b, err := os.ReadFile(filepath.Join(s.Dir, "data", "postmaster.pid")); err == nil {
			if l := strings.Split(string(b), "\n"); len(l) > 7 && strings.TrimSpace(l[7]) == "ready" {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("timeout")
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Stop shuts the server down (SIGQUIT: immediate shutdown, no checkpoint)
// and removes its directory.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
	return os.RemoveAll(s.Dir)
}

// Log is the server's output so far.
func (s *Server) Log() string { return s.log.String() }

// sweep removes the directories of earlier test binaries that were killed
// before their Stop (a timed-out test, a ^C): older than ten minutes and
// without a live postmaster. A live one's postmaster.pid names a running
// process; a killed one's server died with it (Pdeathsig) or shuts itself
// down once its directory is gone.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				continue // still running
			}
		}
		_ = os.RemoveAll(d)
	}
}

// Required reports whether a missing server must fail the tests rather
// than skip them: CI=true.
func Required() bool { return os.Getenv("CI") == "true" }

// Main is for TestMain: it starts a server, calls run (which should call
// m.Run), stops the server and returns the exit code. Without binaries it
// fails when Required, else runs the tests with server nil (they skip).
func Main(m *testing.M, run func(s *Server) int) int {
	s, err := Start()
	switch {
	case errors.Is(err, ErrNoBinaries) && !Required():
		fmt.Fprintln(os.Stderr, "pgtest:", err, "(tests skip; CI=true makes this fatal)")
		return run(nil)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := run(s)
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: stop:", err)
	}
	return code
}

// New is per-test: a server stopped in t.Cleanup; skips or fails
// (Required) without binaries.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if errors.Is(err, ErrNoBinaries) && !Required() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// Ctx is a short helper for tests.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
