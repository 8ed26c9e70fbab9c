package main

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

	"github.com/redis/go-redis/v9"
)

// redistest starts real Redis servers for idemctl's tests, as the
// repository's storage/redis/redistest harness does (same Server and
// Cluster). idemctl cannot require that harness: it is an unpublished
// module, and `go install .../cmd/idemctl@version` resolves idemctl's
// go.mod without replace directives. This copy runs redis-server only, so
// that miniredis stays out of idemctl's module graph too (SPEC §2): without
// redis-server on the PATH the Redis tests skip, or fail when CI=true.
var redistest redisHarness

type redisHarness struct{}

func (redisHarness) require(t testing.TB) {
	t.Helper()
	_, e1 := exec.LookPath("redis-server")
	_, e2 := exec.LookPath("redis-cli")
	if e1 == nil && e2 == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("redis-server and redis-cli are required in CI (apt-get install redis-server redis-tools)")
	}
	t.Skip("redis-server not on PATH")
}

// Server starts a standalone redis-server on a free loopback port and
// returns its address; it is killed when the test ends.
func (h redisHarness) Server(t testing.TB) string {
	t.Helper()
	h.require(t)
	return startRedis(t, freeRedisPort(t, false), nil)
}

// Cluster starts a Redis Cluster of three masters (no replicas) and
// returns their addresses once every slot is served.
func (h redisHarness) Cluster(t testing.TB) []string {
	t.Helper()
	h.require(t)
	var addrs []string
	seen := map[int]bool{}
	for len(addrs) < 3 {
		port := freeRedisPort(t, true)
		if seen[port] {
			continue
		}
		seen[port] = true
		addrs = append(addrs, startRedis(t, port, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port),
			"--cluster-node-timeout", "2000",
		}))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for !redisClusterOK(a) {
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s never reached cluster_state:ok", a)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

func startRedis(t testing.TB, port int, extra []string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--protected-mode", "no",
	}, extra...)
	cmd := exec.Command("redis-server", args...)
	logFile := filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out.Close()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("redis at %s did not answer: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeRedisPort returns a loopback port that is free now; with bus,
// port+10000 (the cluster bus) is free too.
func freeRedisPort(t testing.TB, bus bool) int {
	t.Helper()
	free := func(port int) bool {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	for i := 0; i < 200; i++ {
		port := 20000 + rand.IntN(30000)
		if bus && port+10000 > 65535 {
			continue
		}
		if !free(port) || (bus && !free(port+10000)) {
			continue
		}
		return port
	}
	t.Fatal("no free port")
	return 0
}

func redisClusterOK(addr string) bool {
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
