package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/shop"
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
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatalf("Begin: %+v, %v", res, err)
	}
	if err := store.Complete(ctx, key, res.Token, core.StateCompleted, []byte("stored"), time.Minute); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	res, err = store.Begin(ctx, key, core.Attempt{Fingerprint: core.Fingerprint{1}, Lease: time.Minute, TTL: time.Minute})
	if err != nil || res.Outcome != core.OutcomeRepeated || string(res.Record.Payload) != "stored" {
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

// stallProxy forwards TCP connections to upstream until stall is called;
// from then on it holds every reply back (Redis has hung: a long
// command, SIGSTOP, a black-holed network), until the test ends.
func stallProxy(t *testing.T, upstream string) (addr string, stall func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stalled, closed := make(chan struct{}), make(chan struct{})
	var (
		once  sync.Once
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(up)
			wg.Go(func() { _, _ = io.Copy(up, c) })
			wg.Go(func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := up.Read(buf)
					select {
					case <-stalled:
						<-closed // hold the reply back
						return
					default:
					}
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		close(closed)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() { once.Do(func() { close(stalled) }) }
}

// The examples' Redis client honours context deadlines: once Redis stops
// answering, a store call, and so a request, ends at its context's
// deadline rather than after the client's read timeout (here the URL's
// 10s) and its retries.
func TestRedisStalledHonoursDeadline(t *testing.T) {
	addr, stall := stallProxy(t, redistest.Server(t))
	store, closeStore, err := OpenStore(context.Background(), Config{
		RedisURL: "redis://" + addr + "/0?read_timeout=10s&write_timeout=10s",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	roundTrip(t, store) // Redis answers through the proxy
	stall()

	const deadline = 300 * time.Millisecond
	bounded := func(what string, call func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- call(ctx) }()
		select {
		case err := <-errc:
			took := time.Since(start)
			if err == nil {
				t.Errorf("%s: no error from a stalled Redis", what)
			}
			t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
		case <-time.After(3 * time.Second):
			t.Errorf("%s: still waiting for the stalled Redis 3s after its %v deadline", what, deadline)
		}
	}
	bounded("Begin", func(ctx context.Context) error {
		_, err := store.Begin(ctx, "stalled|begin", core.Attempt{Fingerprint: core.Fingerprint{1}, Lease: time.Minute, TTL: time.Minute})
		return err
	})

	// The same through an example app: the request's deadline bounds its
	// 503 (fail closed), and the handler never runs.
	gin.SetMode(gin.TestMode)
	s := shop.New()
	r, err := ginapp.New(store, s)
	if err != nil {
		t.Fatal(err)
	}
	bounded("POST /payments", func(ctx context.Context) error {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/payments", strings.NewReader(`{"amount":1,"currency":"EUR"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "9b2f0b8e-3c1d-4f5a-8e6b-7a9c0d1e2f3a")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusServiceUnavailable {
			return fmt.Errorf("status %d, want 503: %s", w.Code, w.Body)
		}
		return errors.New(w.Body.String())
	})
	if n := s.Snapshot().Executions.Payments; n != 0 {
		t.Errorf("the payment handler ran %d times without a store", n)
	}
}

// Every client NewRedisClient builds honours context deadlines, unless
// the URL decides for itself with context_timeout_enabled, which
// go-redis either rejects (v9.22.0's ParseURL and ParseClusterURL do not
// know it) or applies.
func TestNewRedisClientContextTimeout(t *testing.T) {
	enabled := func(t *testing.T, c redis.UniversalClient) bool {
		t.Helper()
		switch c := c.(type) {
		case *redis.Client:
			return c.Options().ContextTimeoutEnabled
		case *redis.ClusterClient:
			return c.Options().ContextTimeoutEnabled
		}
		t.Fatalf("client %T", c)
		return false
	}
	for _, u := range []string{"redis://h:1/0", "rediss://h:1?read_timeout=1s", "unix:///tmp/redis.sock", "redis+cluster://a:1,b:2"} {
		c, err := NewRedisClient(u)
		if err != nil {
			t.Fatal(err)
		}
		if !enabled(t, c) {
			t.Errorf("%s: ContextTimeoutEnabled is off", u)
		}
		c.Close()
	}
	for _, u := range []string{"redis://h:1/0?context_timeout_enabled=false", "redis+cluster://a:1,b:2?context_timeout_enabled=false"} {
		c, err := NewRedisClient(u)
		switch {
		case err != nil:
			if !errors.Is(err, ErrRedisURL) || !strings.Contains(err.Error(), contextTimeoutOption) {
				t.Errorf("%s: %v", u, err)
			}
		case enabled(t, c):
			t.Errorf("%s: the URL turned ContextTimeoutEnabled off, the client has it on", u)
			c.Close()
		default:
			c.Close()
		}
	}
}
