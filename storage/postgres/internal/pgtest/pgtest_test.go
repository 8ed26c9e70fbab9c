package pgtest

import (
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
)

func TestBinDirMissing(t *testing.T) {
	t.Setenv("PGTEST_BIN", t.TempDir())
	if _, err := BinDir(); !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("BinDir with an empty PGTEST_BIN = %v, want ErrNoBinaries", err)
	}
	if _, err := Start(); !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("Start = %v, want ErrNoBinaries", err)
	}
}

func TestRequired(t *testing.T) {
	t.Setenv("CI", "true")
	if !Required() {
		t.Fatal("CI=true: not required")
	}
	t.Setenv("CI", "")
	if Required() {
		t.Fatal("CI unset: required")
	}
}

// A server answers on its port while it runs; Stop ends it and removes
// its directory.
func TestStartStop(t *testing.T) {
	if _, err := BinDir(); errors.Is(err, ErrNoBinaries) && !Required() {
		t.Skip(err)
	}
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		_ = s.Stop()
		t.Fatalf("server not listening: %v", err)
	}
	_ = c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s left behind: %v", s.Dir, err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		_ = c.Close()
		t.Fatal("server still listening after Stop")
	}
}
