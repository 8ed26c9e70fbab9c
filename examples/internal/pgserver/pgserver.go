// Package pgserver starts a private, throwaway PostgreSQL cluster for the
// tests of the example servers' -postgres mode: initdb into a fresh temp
// dir, postgres on a free loopback port, removed by the test's cleanup.
// It is a minimal copy of storage/postgres/internal/pgtest, which this
// module cannot import (internal to its module).
//
// Run as root (CI containers), the server runs as an unprivileged user
// through syscall.Credential (initdb and postgres refuse root). Without
// the server binaries the tests skip, unless CI=true: then they fail, so
// that CI never passes by testing nothing.
package pgserver

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
	"syscall"
	"testing"
	"time"
)

// ErrNoBinaries is returned when no initdb/postgres is found.
var ErrNoBinaries = errors.New("pgserver: PostgreSQL server binaries (initdb, postgres) not found; apt-get install postgresql, or set PGTEST_BIN")

// Server is a running private cluster.
type Server struct {
	// DSN connects to its postgres database as the superuser postgres.
	DSN  string
	Port int
	Dir  string // temp dir: data/ and the unix socket
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// URL is the URL of database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// binDir finds the server binaries: $PGTEST_BIN, then the newest
// /usr/lib/postgresql/*/bin (Debian keeps them off PATH), then PATH.
func binDir() (string, error) {
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

// credential is the unprivileged identity to run as when we are root:
// $PGTEST_USER, else "postgres", else "nobody". nil when not root.
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
	return nil, fmt.Errorf("pgserver: running as root and none of %v exists to run postgres as", names)
}

func command(bin string, cred *syscall.Credential, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"LC_ALL=C", "HOME=" + dir, "PATH=" + filepath.Dir(bin) + ":/usr/bin:/bin", "TZ=UTC"}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,            // a ^C to go test does not hit it first
		Pdeathsig:  syscall.SIGKILL, // best effort if the test binary dies
	}
	return cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// Start initialises and starts a cluster. Stop it with Stop.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgserver-") // /tmp is 1777: traversable by the user
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
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if out, err := init.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgserver: initdb: %v\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return fail(err)
		}
		s.log.Reset()
		cmd := command(filepath.Join(bin, "postgres"), cred, dir,
			"-D", data, "-p", strconv.Itoa(s.Port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+dir, // short path: sun_path is 107 bytes
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB",
			"-c", "log_min_messages=warning", "-c", "logging_collector=off")
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Start(); err != nil {
			return fail(err)
		}
		s.cmd, s.done = cmd, make(chan error, 1)
		go func() { s.done <- cmd.Wait() }()
		err = s.waitReady(15 * time.Second)
		if err == nil {
			break
		}
		s.kill()
		if attempt == 2 || !strings.Contains(s.log.String(), "could not bind") {
			return fail(fmt.Errorf("pgserver: postgres did not start: %v\n%s", err, s.log))
		}
	}
	s.DSN = s.URL("postgres")
	return s, nil
}

// waitReady waits for line 8 of postmaster.pid to say "ready", pg_ctl's
// own test: a TCP dial or the socket file is not enough, both exist while
// the server still answers 57P03 "starting up".
func (s *Server) waitReady(max time.Duration) error {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("postgres exited: %v", err)
		default:
		}
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

// Stop shuts the server down (SIGQUIT: immediate shutdown) and removes
// its directory.
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

// Required reports whether a missing server must fail the tests rather
// than skip them: CI=true.
func Required() bool { return os.Getenv("CI") == "true" }

// New starts a server for one test, stopped by its cleanup; it skips
// without binaries, or fails when Required.
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
