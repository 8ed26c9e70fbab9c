package idemredis

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestIgnoresDeadlines(t *testing.T) {
	var nilClient *redis.Client
	cases := []struct {
		name string
		rdb  redis.UniversalClient
		want bool
	}{
		{"client", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), true},
		{"client with deadlines", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true}), false},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), true},
		{"cluster with deadlines", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), false},
		{"ring", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}}), true},
		{"ring with deadlines", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true}), false},
		{"sentinel", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}), true},
		{"sentinel with deadlines", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), false},
		{"sentinel cluster", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}), true},
		{"universal with deadlines", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), false},
		{"nil", nil, false},
		{"typed nil", nilClient, false},
	}
	for _, tc := range cases {
		if got := ignoresDeadlines(tc.rdb); got != tc.want {
			t.Errorf("%s: ignoresDeadlines = %v, want %v", tc.name, got, tc.want)
		}
		if tc.rdb != nil && tc.rdb != redis.UniversalClient(nilClient) {
			tc.rdb.Close()
		}
	}
}

// New warns once per process, through slog's default logger, and leaves
// the client's options alone.
func TestNewWarnsOnceAboutDeadlines(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	warnOnce = sync.Once{}
	t.Cleanup(func() { slog.SetDefault(old) })

	good := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	bad := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { good.Close(); bad.Close() })
	New(good)
	if buf.Len() != 0 {
		t.Fatalf("warned about a client with ContextTimeoutEnabled: %s", buf.String())
	}
	New(good, WithRenewClient(bad))
	if !strings.Contains(buf.String(), "renewal client ignores context deadlines") {
		t.Fatalf("no warning about the renewal client: %q", buf.String())
	}
	buf.Reset()
	New(bad)
	New(bad)
	if buf.Len() != 0 {
		t.Fatalf("warned again: %s", buf.String())
	}
	if bad.Options().ContextTimeoutEnabled {
		t.Fatal("New changed the client's options")
	}
}
