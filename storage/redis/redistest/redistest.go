// Package redistest starts real Redis servers for tests: a standalone
// redis-server or a 3-master Redis Cluster, each on free loopback ports,
// stopped when the test ends.
//
// Without redis-server on the PATH, Server falls back to miniredis and
// Cluster skips, except when the CI environment variable is "true": CI
// must run against the real thing, so there both fail instead.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Available reports whether redis-server and redis-cli are on the PATH.
func Available() bool {
	_, e1 := exec.LookPath("redis-server")
	_, e2 := exec.LookPath("redis-cli")
	return e1 == nil && e2 == nil
}

func inCI() bool { return os.Getenv("CI") == "true" }

// Require fails the test in CI and skips it elsewhere when redis-server is
// missing.
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if inCI() {
		t.Fatal("redistest: redis-server and redis-cli are required in CI (apt-get install redis-server redis-tools)")
	}
	t.Skip("redistest: redis-server not on PATH")
}

// Server starts a standalone Redis and returns its address. Outside CI,
// without redis-server, it returns a miniredis address instead.
func Server(t testing.TB) string {
	t.Helper()
	if !Available() {
		if inCI() {
			Require(t)
		}
		m := miniredis.RunT(t)
		followClock(t, m)
		return m.Addr()
	}
	return (&Process{}).start(t, freePort(t, false), nil)
}

// followClock makes m expire keys as time passes: miniredis counts TTLs
// down only when told to (FastForward), and the store tests wait for real
// leases and TTLs to run out.
func followClock(t testing.TB, m *miniredis.Miniredis) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// Process is a redis-server that a test can stop and start again on the
// same port, to play an outage.
type Process struct {
	Addr string
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartProcess starts a real redis-server (see Require) and returns it.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	Require(t)
	p := &Process{}
	p.start(t, freePort(t, false), nil)
	return p
}

// Stop kills the server, as a crash would.
func (p *Process) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// Restart starts the server again on the same port, empty.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	p.start(t, p.port, nil)
}

func (p *Process) start(t testing.TB, port int, extra []string) string {
	t.Helper()
	if p.dir == "" {
		p.dir = t.TempDir()
	}
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", p.dir,
		"--protected-mode", "no",
	}, extra...)
	cmd := exec.Command("redis-server", args...)
	out, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("redis-%d.log", port)))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: starting redis-server: %v", err)
	}
	p.cmd, p.port = cmd, port
	p.Addr = "127.0.0.1:" + strconv.Itoa(port)
	t.Cleanup(func() { p.Stop(); out.Close() })
	waitPing(t, p.Addr, out.Name())
	return p.Addr
}

func waitPing(t testing.TB, addr, logFile string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("redistest: redis at %s did not answer: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback port that is free now; with bus, port+10000
// (the cluster bus) is free too.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		port := 20000 + rand.IntN(30000)
		if bus && port+10000 > 65535 {
			continue
		}
		if !portFree(port) || (bus && !portFree(port+10000)) {
			continue
		}
		return port
	}
	t.Fatal("redistest: no free port")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Cluster starts a Redis Cluster of three masters (no replicas) and
// returns their addresses once every slot is served.
func Cluster(t testing.TB) []string {
	t.Helper()
	Require(t)
	var addrs []string
	seen := map[int]bool{}
	for len(addrs) < 3 {
		port := freePort(t, true)
		if seen[port] {
			continue
		}
		seen[port] = true
		p := &Process{}
		addrs = append(addrs, p.start(t, port, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port),
			"--cluster-node-timeout", "2000",
		}))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for !clusterOK(a) {
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster node %s never reached cluster_state:ok", a)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

func clusterOK(addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.ClusterInfo(context.Background()).Result()
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "cluster_state:ok" {
			return true
		}
	}
	return false
}
