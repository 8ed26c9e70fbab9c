package serve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

func TestOpenStoreMemory(t *testing.T) {
	a, closeA, err := OpenStore(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeA()
	b, closeB, _ := OpenStore(context.Background(), Config{})
	defer closeB()
	if a == b {
		t.Error("two servers would share one memory store")
	}
	if got := Describe(Config{}); !strings.HasPrefix(got, "memory") {
		t.Errorf("Describe = %q", got)
	}
}

// The store OpenStore returns for a Redis URL works: a key is claimed,
// completed and then replayed.
func TestOpenStoreRedis(t *testing.T) {
	addr := redistest.Server(t) // real redis-server, or miniredis outside CI
	store, closeStore, err := OpenStore(context.Background(), Config{RedisURL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if _, ok := store.(*idemredis.Store); !ok {
		t.Fatalf("store is %T, want *idemredis.Store", store)
	}
	roundTrip(t, store)
}

func TestOpenStoreRedisCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	addrs := redistest.Cluster(t) // skips without redis-server, outside CI
	store, closeStore, err := OpenStore(context.Background(), Config{RedisURL: "redis+cluster://" + strings.Join(addrs, ",")})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	roundTrip(t, store)
}

func roundTrip(t *testing.T, store core.Store) {
	t.Helper()
	ctx := context.Background()
	key := "test|" + time.Now().Format(time.RFC3339Nano)
	res, err := store.Begin(ctx, key, core.Attempt{Fingerprint: core.Fingerprint{1}, Lease: time.Minute, TTL: time.Minute})
	if err != nil || res.Outcome != core.Claimed {
		t.Fatalf("Begin: %+v, %v", res, err)
	}
	if err := store.Complete(ctx, key, res.Token, []byte("stored"), time.Minute); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	res, err = store.Begin(ctx, key, core.Attempt{Fingerprint: core.Fingerprint{1}, Lease: time.Minute, TTL: time.Minute})
	if err != nil || res.Outcome != core.Replay || string(res.Record.Payload) != "stored" {
		t.Fatalf("replay: %+v, %v", res, err)
	}
}

func TestOpenStoreRedisUnreachable(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, _, err := OpenStore(context.Background(), Config{RedisURL: "redis://:s3cret@" + closedAddr(t) + "/0"})
	if !errors.Is(err, ErrRedisUnreachable) || errors.Is(err, ErrRedisURL) {
		t.Fatalf("err %v, want ErrRedisUnreachable", err)
	}
	if d := time.Since(start); d > PingTimeout+time.Second {
		t.Errorf("took %v, want at most about %v", d, PingTimeout)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	t.Log(err)
}

func TestNewRedisClient(t *testing.T) {
	for _, tc := range []struct {
		url     string
		cluster bool
		addrs   []string
		check   func(t *testing.T, c redis.UniversalClient)
	}{
		{url: "redis://localhost:6379/2", addrs: []string{"localhost:6379"}, check: func(t *testing.T, c redis.UniversalClient) {
			if db := c.(*redis.Client).Options().DB; db != 2 {
				t.Errorf("db %d", db)
			}
		}},
		{url: "redis://localhost", addrs: []string{"localhost:6379"}},
		{url: "rediss://u:p@cache.example:6380", addrs: []string{"cache.example:6380"}, check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.TLSConfig == nil || o.Username != "u" || o.Password != "p" {
				t.Errorf("TLS %v, user %q, password %q", o.TLSConfig != nil, o.Username, o.Password)
			}
		}},
		{url: "redis+cluster://n1:7000,n2:7001, n3:7002/", cluster: true, addrs: []string{"n1:7000", "n2:7001", "n3:7002"}},
		{url: "rediss+cluster://:pw@n1:7000,n2:7001?dial_timeout=2s", cluster: true, addrs: []string{"n1:7000", "n2:7001"}, check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.ClusterClient).Options()
			if o.TLSConfig == nil || o.Password != "pw" || o.DialTimeout != 2*time.Second {
				t.Errorf("TLS %v, password %q, dial timeout %v", o.TLSConfig != nil, o.Password, o.DialTimeout)
			}
		}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := NewRedisClient(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var addrs []string
			switch c := c.(type) {
			case *redis.Client:
				if tc.cluster {
					t.Fatal("not a cluster client")
				}
				addrs = []string{c.Options().Addr}
			case *redis.ClusterClient:
				if !tc.cluster {
					t.Fatal("cluster client for a standalone URL")
				}
				addrs = c.Options().Addrs
			default:
				t.Fatalf("client %T", c)
			}
			if strings.Join(addrs, ",") != strings.Join(tc.addrs, ",") {
				t.Errorf("addrs %v, want %v", addrs, tc.addrs)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}

	for _, bad := range []string{
		"localhost:6379", "http://localhost", "redis://localhost:notaport", "redis://h/notadb",
		"redis+cluster://", "redis+cluster://n1", "redis+cluster://n1:7000/0", "redis+cluster://n1:7000?a=%zz",
		"redis://:pw@h:bad",
	} {
		_, err := NewRedisClient(bad)
		if !errors.Is(err, ErrRedisURL) {
			t.Errorf("%q: err %v, want ErrRedisURL", bad, err)
			continue
		}
		if strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%q: error shows the password: %v", bad, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://localhost:6379/0":                  "redis://localhost:6379/0",
		"redis://:secret@h:6379/1":                  "redis://:xxxxx@h:6379/1",
		"rediss://user:secret@h":                    "rediss://user:xxxxx@h",
		"redis://user@h":                            "redis://user@h",
		"redis+cluster://u:p@a:1,b:2":               "redis+cluster://u:xxxxx@a:1,b:2",
		"redis://h?password=secret&dial_timeout=1s": "redis://h?dial_timeout=1s&password=xxxxx",
		"nonsense": "(unparsable URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Describe(Config{RedisURL: "redis://:secret@h:6379/0"}); !strings.HasPrefix(got, "redis redis://:xxxxx@h:6379/0") {
		t.Errorf("Describe = %q", got)
	}
}
