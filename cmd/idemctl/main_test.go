package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
)

// env is a Redis with an idemkit Engine on it.
type env struct {
	t     *testing.T
	url   string
	rdb   redis.UniversalClient
	store *idemredis.Store
	eng   *core.Engine
	runs  atomic.Int64
}

func newEnv(t *testing.T, prefix string) *env {
	t.Helper()
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	return newEnvOn(t, "redis://"+addr+"/0", rdb, prefix)
}

func newEnvOn(t *testing.T, url string, rdb redis.UniversalClient, prefix string) *env {
	t.Helper()
	store := idemredis.New(rdb, idemredis.WithPrefix(prefix))
	eng, err := core.New(core.WithStore(store), core.WithKeyValidator(core.Token()), core.WithLockWait(0))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, url: url, rdb: rdb, store: store, eng: eng}
}

var payments = core.ScopeString(core.ScopeUserRoute, "alice", http.MethodPost, "/payments", "")

func fingerprint(s string) core.Fingerprint { return core.Fingerprint(sha256.Sum256([]byte(s))) }

// complete runs the Engine for key in scope, storing result.
func (e *env) complete(scope, key, result string) {
	e.t.Helper()
	_, replayed, err := e.eng.Do(context.Background(), scope, key, fingerprint(key), func(context.Context) ([]byte, error) {
		e.runs.Add(1)
		return []byte(result), nil
	})
	if err != nil || replayed {
		e.t.Fatalf("Do(%q, %q): replayed %v, err %v", scope, key, replayed, err)
	}
}

// inFlight starts the Engine on key and keeps its function running until
// the returned func is called (which waits for Do to finish).
func (e *env) inFlight(scope, key string) (finish func()) {
	e.t.Helper()
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := e.eng.Do(context.Background(), scope, key, fingerprint(key), func(context.Context) ([]byte, error) {
			<-release
			return []byte("late"), nil
		})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, err := e.store.Get(context.Background(), core.StoreKey(scope, key))
		if err == nil && rec.State == core.StateInFlight {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("record never went in flight: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return func() {
		close(release)
		if err := <-done; err != nil {
			e.t.Errorf("in-flight Do: %v", err)
		}
	}
}

// storeResponse claims key through the store and completes it with an
// encoded response, as the HTTP middleware does.
func (e *env) storeResponse(scope, key string, r *core.Response) {
	e.t.Helper()
	ctx := context.Background()
	sk := core.StoreKey(scope, key)
	res, err := e.store.Begin(ctx, sk, core.Attempt{Fingerprint: fingerprint(key), Lease: time.Second, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		e.t.Fatalf("Begin: %v %v", res.Outcome, err)
	}
	payload, err := core.BinarySerializer{}.Encode(nil, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Complete(ctx, sk, res.Token, core.StateCompleted, payload, time.Hour); err != nil {
		e.t.Fatal(err)
	}
}

// ctl runs idemctl with args after the -redis and -prefix flags (or
// without them when noConn) and returns its exit status and output.
func (e *env) ctl(prefix string, args ...string) (int, string, string) {
	e.t.Helper()
	return ctl(append([]string{"-redis", e.url, "-prefix", prefix}, args...)...)
}

func ctl(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := sonic.UnmarshalString(s, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return v
}

// spaces collapses runs of spaces, so that checks do not depend on the
// width of tabwriter's columns.
var spaces = regexp.MustCompile(` {2,}`)

func wantContains(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(spaces.ReplaceAllString(out, " "), spaces.ReplaceAllString(s, " ")) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestInspectCompleted(t *testing.T) {
	e := newEnv(t, "idem:")
	key := "8d2f6c1e-6a53-4a4f-9d2b-4f1f3c2a7b10"
	e.complete(payments, key, `{"id":"pay_1"}`)

	code, out, errOut := e.ctl("idem:", "inspect", "-scope", payments, "-key", key)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out,
		"redis key    "+e.store.RecordKey(core.StoreKey(payments, key)),
		"scope        user_route:alice|POST /payments",
		"state        completed",
		"format       v1",
		"fingerprint  "+fingerprint(key).String(),
		"lease end    -",
		"status       200 OK",
		"body         14 bytes",
		"\n{\"id\":\"pay_1\"}\n",
	)

	// Global flags may follow the command too.
	code, out, errOut = ctl("inspect", "-redis", e.url, "-scope", payments, "-key", key, "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	in := decode[inspection](t, out)
	if !in.Found || in.State != "completed" || in.Version != "1" || !in.KnownVersion ||
		in.Fingerprint != fingerprint(key).String() || in.LeaseEnd != nil {
		t.Fatalf("inspection %+v", in)
	}
	if in.TTLMS <= 0 || in.TTLMS > core.DefaultTTL.Milliseconds() {
		t.Fatalf("ttl %dms, want within the 24h TTL", in.TTLMS)
	}
	if in.Token == 0 {
		t.Fatal("no token")
	}
	if in.Response == nil || in.Response.Status != 200 || in.Response.Body != `{"id":"pay_1"}` || in.Response.Truncated {
		t.Fatalf("response %+v", in.Response)
	}
}

func TestInspectHeadersAndTruncation(t *testing.T) {
	e := newEnv(t, "idem:")
	body := strings.Repeat("0123456789", 500) // 5000 bytes
	e.storeResponse(payments, "k1", &core.Response{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/payments/pay_7"}},
		Body:   []byte(body),
	})

	code, out, errOut := e.ctl("idem:", "inspect", "-scope", payments, "-key", "k1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out,
		"status       201 Created",
		"headers      Content-Type: application/json",
		"             Location: /payments/pay_7",
		"body         5000 bytes (first 2048 shown; -full shows all)",
		"\n"+body[:2048]+"\n…\n",
	)
	if strings.Contains(out, body[:2049]) {
		t.Fatal("body not truncated")
	}

	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "k1", "-full")
	wantContains(t, out, "\n"+body+"\n")

	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "k1", "-json")
	in := decode[inspection](t, out)
	if r := in.Response; r == nil || r.Status != 201 || len(r.Body) != 2048 || !r.Truncated || r.BodyBytes != 5000 ||
		r.Headers["Location"][0] != "/payments/pay_7" {
		t.Fatalf("response %+v", in.Response)
	}
	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "k1", "-json", "-full")
	if r := decode[inspection](t, out).Response; r.Body != body || r.Truncated {
		t.Fatalf("-full: %d bytes, truncated %v", len(r.Body), r.Truncated)
	}
}

func TestInspectBinaryBody(t *testing.T) {
	e := newEnv(t, "idem:")
	e.storeResponse(payments, "bin", &core.Response{Status: 200, Body: []byte{0, 1, 2, 0xff, 'x'}})
	_, out, _ := e.ctl("idem:", "inspect", "-scope", payments, "-key", "bin")
	wantContains(t, out, "body         5 bytes (binary)", "00 01 02 ff 78")
	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "bin", "-json")
	if r := decode[inspection](t, out).Response; r.BodyBase64 != "AAEC/3g=" || r.Body != "" {
		t.Fatalf("response %+v", r)
	}
}

func TestInspectInFlight(t *testing.T) {
	e := newEnv(t, "idem:")
	finish := e.inFlight(payments, "busy")
	defer finish()

	code, out, errOut := e.ctl("idem:", "inspect", "-scope", payments, "-key", "busy", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	in := decode[inspection](t, out)
	if in.State != "in_flight" || in.Response != nil || in.LeaseEnd == nil || in.LeaseLeftMS == nil {
		t.Fatalf("inspection %+v", in)
	}
	if left := *in.LeaseLeftMS; left <= 0 || left > core.DefaultLease.Milliseconds() {
		t.Fatalf("lease left %dms, want within the 30s lease", left)
	}
	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "busy")
	wantContains(t, out, "state        in_flight", "lease end    ", " (in ")
}

func TestInspectNotFound(t *testing.T) {
	e := newEnv(t, "idem:")
	code, out, _ := e.ctl("idem:", "inspect", "-scope", payments, "-key", "nope")
	if code != exitNotFound {
		t.Fatalf("exit %d, want %d", code, exitNotFound)
	}
	wantContains(t, out, "no record", e.store.RecordKey(core.StoreKey(payments, "nope")))
	code, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "nope", "-json")
	if code != exitNotFound || decode[inspection](t, out).Found {
		t.Fatalf("exit %d, %s", code, out)
	}
}

func TestInspectUnknownVersion(t *testing.T) {
	e := newEnv(t, "idem:")
	rk := e.store.RecordKey(core.StoreKey(payments, "future"))
	if err := e.rdb.HSet(context.Background(), rk, "v", "9", "s", "2", "p", "whatever").Err(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.ctl("idem:", "inspect", "-scope", payments, "-key", "future")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "state        unknown", `format       v"9": unknown`, "ttl          none")
}

func TestFlush(t *testing.T) {
	e := newEnv(t, "idem:")
	e.complete(payments, "k", "first")
	_, replayed, _ := e.eng.Do(context.Background(), payments, "k", fingerprint("k"), nil)
	if !replayed {
		t.Fatal("the engine did not replay before the flush")
	}

	code, out, errOut := e.ctl("idem:", "flush", "-scope", payments, "-key", "k")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "deleted completed record "+e.store.RecordKey(core.StoreKey(payments, "k")))
	if n, _ := e.rdb.Exists(context.Background(), e.store.RecordKey(core.StoreKey(payments, "k"))).Result(); n != 0 {
		t.Fatal("record still there")
	}

	code, out, _ = e.ctl("idem:", "flush", "-scope", payments, "-key", "k")
	if code != exitOK {
		t.Fatalf("second flush: exit %d", code)
	}
	wantContains(t, out, "no record ", "nothing to delete")

	// The next request with the key runs afresh.
	e.complete(payments, "k", "second")
	if e.runs.Load() != 2 {
		t.Fatalf("function ran %d times, want 2", e.runs.Load())
	}

	_, out, _ = e.ctl("idem:", "flush", "-scope", payments, "-key", "k", "-json")
	if r := decode[flushResult](t, out); !r.Existed || r.State != "completed" || r.Scope != payments || r.Key != "k" {
		t.Fatalf("flush %+v", r)
	}
	_, out, _ = e.ctl("idem:", "flush", "-scope", payments, "-key", "k", "-json")
	if r := decode[flushResult](t, out); r.Existed || r.State != "" {
		t.Fatalf("flush %+v", r)
	}
}

func TestFlushInFlight(t *testing.T) {
	e := newEnv(t, "idem:")
	finish := e.inFlight(payments, "busy")
	_, out, _ := e.ctl("idem:", "flush", "-scope", payments, "-key", "busy", "-json")
	if r := decode[flushResult](t, out); !r.Existed || r.State != "in_flight" {
		t.Fatalf("flush %+v", r)
	}
	finish() // the owner's completion is fenced off: nothing is stored
	code, _, _ := e.ctl("idem:", "inspect", "-scope", payments, "-key", "busy")
	if code != exitNotFound {
		t.Fatalf("inspect after the fenced completion: exit %d, want %d", code, exitNotFound)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, "idem:")
	ctx := context.Background()
	refunds := core.ScopeString(core.ScopeUserRoute, "bob", http.MethodPost, "/refunds", "")
	e.complete(payments, "a", `{"id":"pay_1"}`)
	e.complete(payments, "b", `{"id":"pay_2"}`)
	e.complete(refunds, "a", strings.Repeat("r", 3000))
	finish := e.inFlight(payments, "busy")
	defer finish()
	// A claim whose lease has run out: its owner is presumed dead.
	if _, err := e.store.Begin(ctx, core.StoreKey(payments, "dead"), core.Attempt{Fingerprint: fingerprint("dead"), Lease: 10 * time.Millisecond, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// A record of a future format, an alert cooldown, and keys that are
	// not the store's.
	if err := e.rdb.HSet(ctx, e.store.RecordKey(core.StoreKey(payments, "future")), "v", "2", "s", "2", "p", "xx").Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.AcquireCooldown(ctx, "PAYLOAD_MISMATCH|user_route", time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	other := idemredis.New(e.rdb, idemredis.WithPrefix("other:"))
	if _, err := other.Begin(ctx, core.StoreKey(payments, "x"), core.Attempt{Fingerprint: fingerprint("x"), Lease: time.Second, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	e.rdb.Set(ctx, "idem:{not-a-hash}", "1", time.Hour)
	time.Sleep(20 * time.Millisecond) // let the dead claim's lease end

	var payload int64
	for _, k := range []string{core.StoreKey(payments, "a"), core.StoreKey(payments, "b"), core.StoreKey(refunds, "a")} {
		rec, err := e.store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		payload += int64(len(rec.Payload))
	}

	code, out, errOut := e.ctl("idem:", "stats", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := decode[statistics](t, out)
	want := statistics{Prefix: "idem:", Nodes: 1, Records: 6, InFlight: 2, LeaseExpired: 1, Completed: 3,
		UnknownVersion: 1, PayloadBytes: payload, CooldownKeys: 1, Other: 1}
	if got != want {
		t.Fatalf("stats\n got %+v\nwant %+v", got, want)
	}

	code, out, _ = e.ctl("idem:", "stats")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	wantContains(t, out,
		"records         6\n",
		"  in flight     2   (1 with an expired lease)\n",
		"  completed     3\n",
		"  unknown format  1\n",
		fmt.Sprintf("payload bytes   %d", payload),
		"cooldown keys   1\n",
	)

	// The other prefix sees only its own record.
	_, out, _ = e.ctl("other:", "stats", "-json")
	if got := decode[statistics](t, out); got.Records != 1 || got.InFlight != 1 || got.CooldownKeys != 0 {
		t.Fatalf("other: stats %+v", got)
	}
}

func TestStatsPrefixIsNotAPattern(t *testing.T) {
	e := newEnv(t, "app*:")
	e.complete(payments, "a", "x")
	other := newEnvOn(t, e.url, e.rdb, "app1:")
	other.complete(payments, "a", "y")
	other.complete(payments, "b", "y")

	_, out, _ := e.ctl("app*:", "stats", "-json")
	if got := decode[statistics](t, out); got.Records != 1 {
		t.Fatalf("prefix app*: counted %d records, want 1 (the prefix is literal)", got.Records)
	}
}

func TestStatsEmptyAndRedisURLFromEnv(t *testing.T) {
	e := newEnv(t, "idem:")
	t.Setenv("REDIS_URL", e.url)
	code, out, errOut := ctl("stats", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := decode[statistics](t, out); got != (statistics{Prefix: "idem:", Nodes: 1}) {
		t.Fatalf("stats %+v", got)
	}
}

func TestCluster(t *testing.T) {
	addrs := redistest.Cluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { rdb.Close() })
	url := "redis+cluster://" + strings.Join(addrs, ",")
	e := newEnvOn(t, url, rdb, "idem:")
	const n = 60
	for i := range n {
		e.complete(payments, "key-"+strconv.Itoa(i), "ok")
	}
	finish := e.inFlight(payments, "busy")
	defer finish()

	code, out, errOut := e.ctl("idem:", "stats", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := decode[statistics](t, out)
	if got.Nodes != 3 || got.Records != n+1 || got.Completed != n || got.InFlight != 1 {
		t.Fatalf("stats %+v", got)
	}

	code, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "key-7", "-json")
	if in := decode[inspection](t, out); code != exitOK || in.State != "completed" || in.Response.Body != "ok" {
		t.Fatalf("exit %d, inspection %+v", code, in)
	}
	code, out, _ = e.ctl("idem:", "flush", "-scope", payments, "-key", "key-7")
	if code != exitOK || !strings.Contains(out, "deleted completed record") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, exitUsage, "usage: idemctl"},
		{[]string{"-h"}, exitOK, "usage: idemctl"},
		{[]string{"help"}, exitOK, "inspect"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"-nope"}, exitUsage, "flag provided but not defined"},
		{[]string{"inspect"}, exitUsage, "-scope and -key are required"},
		{[]string{"inspect", "-scope", "global"}, exitUsage, "-scope and -key are required"},
		{[]string{"flush", "-key", "k"}, exitUsage, "-scope and -key are required"},
		{[]string{"stats", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"inspect", "-h"}, exitOK, "usage: idemctl inspect -scope S -key K"},
		{[]string{"-redis", "localhost:6379", "stats"}, exitFailure, "invalid Redis URL"},
		{[]string{"-redis", "redis+cluster://a:1,b:2/3", "stats"}, exitFailure, "only database 0"},
	} {
		code, out, errOut := ctl(c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("idemctl %q: exit %d, want %d with %q\n%s%s", c.args, code, c.code, c.out, out, errOut)
		}
	}
}

func TestRedisDown(t *testing.T) {
	code, _, errOut := ctl("-redis", "redis://127.0.0.1:1/0", "-timeout", "1s", "stats")
	if code != exitFailure || !strings.HasPrefix(errOut, "idemctl stats: ") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestParseClusterURL(t *testing.T) {
	c, err := newClient("redis+cluster://user:secret@n1:7000,n2:7001,n3?dial_timeout=3&read_timeout=6s", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client %T, want *redis.ClusterClient", c)
	}
	o := cc.Options()
	if strings.Join(o.Addrs, ",") != "n1:7000,n2:7001,n3:6379" || o.Username != "user" || o.Password != "secret" ||
		o.DialTimeout != 3*time.Second || o.ReadTimeout != 6*time.Second || o.TLSConfig != nil {
		t.Fatalf("options %+v", o)
	}

	c, err = newClient("rediss+cluster://n1:7000,n2:7001/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := c.(*redis.ClusterClient).Options(); o.TLSConfig == nil || len(o.Addrs) != 2 {
		t.Fatalf("rediss+cluster: options %+v", o)
	}

	c, err = newClient("redis://:pw@localhost:6380/2", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := c.(*redis.Client).Options(); o.Addr != "localhost:6380" || o.DB != 2 || o.Password != "pw" {
		t.Fatalf("redis: options %+v", o)
	}

	for _, bad := range []string{"redis+cluster://", "redis+cluster://a:1/1", "redis+cluster://a:1?bogus=1", "nope"} {
		if c, err := newClient(bad, 0); err == nil {
			c.Close()
			t.Errorf("newClient(%q) accepted", bad)
		}
	}
	if _, err := newClient("redis+cluster://u:hunter2@a:1?bogus=1", 0); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
	if _, err := newClient("redis//u:hunter2@a:1", 0); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
}

func TestGlobEscape(t *testing.T) {
	if got := globEscape(`a*b?c[d]e\f`); got != `a\*b\?c\[d\]e\\f` {
		t.Fatal(got)
	}
	if got := globEscape("idem:"); got != "idem:" {
		t.Fatal(got)
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// stalledServer listens on loopback and accepts connections but never
// answers: a Redis that hangs (stopped with SIGSTOP, a black-holed
// network). It returns the address.
func stalledServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }() // read, never write
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// -timeout bounds every Redis call: against a server that never answers,
// each command gives up soon after it and says why, instead of waiting
// for go-redis's own timeouts and retries (seconds each).
func TestTimeoutStalledRedis(t *testing.T) {
	addr := stalledServer(t)
	for _, tc := range []struct {
		name string
		url  string
		args []string
	}{
		{"stats", "redis://" + addr + "/0", []string{"stats"}},
		{"inspect", "redis://" + addr + "/0", []string{"inspect", "-scope", payments, "-key", "k"}},
		{"flush", "redis://" + addr + "/0", []string{"flush", "-scope", payments, "-key", "k"}},
		// The URL's own longer timeouts do not extend -timeout.
		{"url timeouts", "redis://" + addr + "/0?dial_timeout=10s&read_timeout=10s&write_timeout=10s", []string{"stats"}},
		{"cluster", "redis+cluster://" + addr + "?read_timeout=10s", []string{"stats"}},
	} {
		t.Run(tc.name, func(t *testing.T) { // not parallel: run sets go-redis's global logger
			start := time.Now()
			code, out, errOut := ctl(append([]string{"-redis", tc.url, "-timeout", "300ms"}, tc.args...)...)
			took := time.Since(start)
			if code != exitFailure {
				t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
			}
			if took > 3*time.Second {
				t.Errorf("took %v with -timeout 300ms", took.Round(time.Millisecond))
			}
			if !strings.Contains(errOut, "no answer within -timeout 300ms") {
				t.Errorf("the error does not say it timed out: %s", errOut)
			}
			t.Logf("%v: %s", took.Round(time.Millisecond), strings.TrimSpace(errOut))
		})
	}
}

// The clients idemctl builds honour context deadlines, and a -timeout
// caps the URL's (or go-redis's default) dial, read and write timeouts.
func TestClientTimeouts(t *testing.T) {
	type opts struct {
		ctxTimeout        bool
		dial, read, write time.Duration
	}
	get := func(t *testing.T, c redis.UniversalClient) opts {
		t.Helper()
		switch c := c.(type) {
		case *redis.Client:
			o := c.Options()
			return opts{o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout}
		case *redis.ClusterClient:
			o := c.Options()
			return opts{o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout}
		}
		t.Fatalf("client %T", c)
		return opts{}
	}
	const ms = time.Millisecond
	for _, tc := range []struct {
		url     string
		timeout time.Duration
		want    opts
	}{
		{"redis://h:1/0", 0, opts{true, 5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"redis://h:1/0?read_timeout=-1", 0, opts{true, 5 * time.Second, 0, 0}},
		{"redis://h:1/0", 300 * ms, opts{true, 300 * ms, 300 * ms, 300 * ms}},
		{"redis://h:1/0?dial_timeout=100ms&read_timeout=200ms", 300 * ms, opts{true, 100 * ms, 200 * ms, 200 * ms}},
		{"redis://h:1/0?read_timeout=-1&write_timeout=-2", 300 * ms, opts{true, 300 * ms, 300 * ms, 300 * ms}},
		{"redis://h:1/0?read_timeout=1m", time.Minute + time.Second, opts{true, 5 * time.Second, time.Minute, time.Minute}},
		{"redis+cluster://h:1,h:2?read_timeout=10s&write_timeout=100ms", 300 * ms, opts{true, 300 * ms, 300 * ms, 100 * ms}},
	} {
		c, err := newClient(tc.url, tc.timeout)
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, c); got != tc.want {
			t.Errorf("%s with -timeout %v: %+v, want %+v", tc.url, tc.timeout, got, tc.want)
		}
		c.Close()
	}
}

// claim claims key in scope through the store with lease, and commits the
// claim when committed.
func (e *env) claim(scope, key string, lease time.Duration, committed bool) uint64 {
	e.t.Helper()
	ctx := context.Background()
	sk := core.StoreKey(scope, key)
	res, err := e.store.Begin(ctx, sk, core.Attempt{Fingerprint: fingerprint(key), Nonce: uint64(time.Now().UnixNano()) | 1, Lease: lease, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		e.t.Fatalf("Begin: %v %v", res.Outcome, err)
	}
	if committed {
		if err := e.store.Commit(ctx, sk, res.Token, nil); err != nil {
			e.t.Fatal(err)
		}
	}
	return res.Token
}

// final claims key and ends it with a final record of state and reason.
func (e *env) final(scope, key string, state core.State, reason string) {
	e.t.Helper()
	tok := e.claim(scope, key, time.Minute, state == core.StateUncertain)
	if err := e.store.Complete(context.Background(), core.StoreKey(scope, key), tok, state, []byte(reason), time.Hour); err != nil {
		e.t.Fatal(err)
	}
}

// stranded leaves a committed claim on key whose lease has ended.
func (e *env) stranded(scope, key string) uint64 {
	e.t.Helper()
	tok := e.claim(scope, key, 10*time.Millisecond, true)
	time.Sleep(30 * time.Millisecond)
	return tok
}

func TestInspectNewStates(t *testing.T) {
	e := newEnv(t, "idem:")
	e.final(payments, "tomb", core.StateTombstone, "response too large to store (12 MiB)")
	e.final(payments, "unc", core.StateUncertain, "handler failed after declaring effects: 502 from the provider")
	e.claim(payments, "live", time.Minute, true)
	e.stranded(payments, "dead")

	for _, tc := range []struct {
		key   string
		want  []string
		check func(in inspection) bool
	}{
		{"tomb", []string{"state        tombstone: the handler ran to completion but its response was not stored",
			"reason       response too large to store (12 MiB)", "resolve      idemctl resolve -scope 'user_route:alice|POST /payments' -key tomb -release"},
			func(in inspection) bool {
				return in.State == "tombstone" && in.Reason != nil && *in.Reason == "response too large to store (12 MiB)" && in.Resolvable && in.Response == nil && in.DecodeError == ""
			}},
		{"unc", []string{"state        uncertain: the handler may have had effects, then failed", "reason       handler failed after declaring effects: 502 from the provider", "resolve "},
			func(in inspection) bool {
				return in.State == "uncertain" && in.Reason != nil && in.Resolvable && !in.Committed && in.Response == nil
			}},
		{"live", []string{"state        in_flight, committed: the handler declared effects; it is never taken over", " (in "},
			func(in inspection) bool {
				return in.State == "in_flight" && in.Committed && !in.Stranded && !in.Resolvable
			}},
		{"dead", []string{"state        in_flight, committed, stranded:", "ago: the owner is presumed dead)\n", "resolve "},
			func(in inspection) bool {
				return in.State == "in_flight" && in.Committed && in.Stranded && in.Resolvable && *in.LeaseLeftMS <= 0
			}},
	} {
		code, out, errOut := e.ctl("idem:", "inspect", "-scope", payments, "-key", tc.key)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", tc.key, code, errOut)
		}
		wantContains(t, out, tc.want...)
		if tc.key == "live" && strings.Contains(out, "resolve ") {
			t.Errorf("a live claim is offered for resolution:\n%s", out)
		}
		_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", tc.key, "-json")
		if in := decode[inspection](t, out); !tc.check(in) {
			t.Errorf("%s: inspection %+v", tc.key, in)
		}
	}
	// The first request after the stranded claim's lease makes it uncertain.
	res, err := e.store.Begin(context.Background(), core.StoreKey(payments, "dead"), core.Attempt{Fingerprint: fingerprint("dead"), Lease: time.Second, TTL: time.Hour})
	if err != nil || !res.Stranded {
		t.Fatalf("Begin: %+v %v", res, err)
	}
	_, out, _ := e.ctl("idem:", "inspect", "-scope", payments, "-key", "dead")
	wantContains(t, out, "state        uncertain", "reason       owner lost its lease after declaring effects", "lease end    -")
}

func TestStatsNewStates(t *testing.T) {
	e := newEnv(t, "idem:")
	e.complete(payments, "done", "ok")
	e.final(payments, "tomb1", core.StateTombstone, "too large")
	e.final(payments, "tomb2", core.StateTombstone, "streamed")
	e.final(payments, "unc", core.StateUncertain, "failed")
	e.claim(payments, "live", time.Minute, false)
	e.claim(payments, "committed", time.Minute, true)
	e.stranded(payments, "stranded")

	code, out, errOut := e.ctl("idem:", "stats", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := decode[statistics](t, out)
	rec, err := e.store.Get(context.Background(), core.StoreKey(payments, "done"))
	if err != nil {
		t.Fatal(err)
	}
	want := statistics{Prefix: "idem:", Nodes: 1, Records: 7, InFlight: 3, LeaseExpired: 1, Committed: 2, Stranded: 1,
		Completed: 1, Tombstone: 2, Uncertain: 1, PayloadBytes: int64(len(rec.Payload))}
	if got != want {
		t.Fatalf("stats\n got %+v\nwant %+v", got, want)
	}
	_, out, _ = e.ctl("idem:", "stats")
	wantContains(t, out,
		"records         7\n",
		"  in flight     3   (1 with an expired lease)\n",
		"    committed   2   (1 stranded: lease ended after declaring effects)\n",
		"  completed     1\n",
		"  tombstone     2\n",
		"  uncertain     1\n",
	)
}

func TestFlushNewStates(t *testing.T) {
	e := newEnv(t, "idem:")
	e.final(payments, "tomb", core.StateTombstone, "too large")
	e.final(payments, "unc", core.StateUncertain, "failed")
	for k, state := range map[string]string{"tomb": "tombstone", "unc": "uncertain"} {
		_, out, _ := e.ctl("idem:", "flush", "-scope", payments, "-key", k, "-json")
		if r := decode[flushResult](t, out); !r.Existed || r.State != state {
			t.Fatalf("flush %+v, want %s", r, state)
		}
	}
}

func TestResolveRelease(t *testing.T) {
	e := newEnv(t, "idem:")
	e.final(payments, "unc", core.StateUncertain, "failed")
	e.final(payments, "tomb", core.StateTombstone, "too large")
	e.stranded(payments, "dead")
	for k, was := range map[string]string{"unc": "uncertain", "tomb": "tombstone", "dead": "stranded"} {
		rk := e.store.RecordKey(core.StoreKey(payments, k))
		code, out, errOut := e.ctl("idem:", "resolve", "-scope", payments, "-key", k, "-release")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", k, code, errOut)
		}
		wantContains(t, out, "released "+was+" record "+rk+": the next request with its key runs afresh")
		if n := e.rdb.Exists(context.Background(), rk).Val(); n != 0 {
			t.Fatalf("%s: record still there", k)
		}
		// The next request runs afresh.
		e.complete(payments, k, "fresh")
	}
	if e.runs.Load() != 3 {
		t.Fatalf("runs %d", e.runs.Load())
	}
	// A second resolve finds nothing.
	code, _, errOut := e.ctl("idem:", "resolve", "-scope", payments, "-key", "nope", "-release")
	if code != exitNotFound || !strings.Contains(errOut, "no record "+e.store.RecordKey(core.StoreKey(payments, "nope"))+": nothing to resolve") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestResolveComplete(t *testing.T) {
	e := newEnv(t, "idem:")
	ctx := context.Background()
	owner := e.stranded(payments, "dead")
	body := `{"id":"pay_9","status":"captured"}`
	file := t.TempDir() + "/resp.json"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.ctl("idem:", "resolve", "-scope", payments, "-key", "dead", "-status", "201",
		"-header", "content-type: application/json", "-header", "Location: /payments/pay_9", "-header", "X-Note: a", "-header", "X-Note:b",
		"-body", "@"+file, "-ttl", "2h", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := decode[resolveResult](t, out)
	want := resolveResult{Scope: payments, Key: "dead", recordRef: recordRef{RedisKey: e.store.RecordKey(core.StoreKey(payments, "dead"))}, Was: "stranded",
		Action: "completed", Status: 201, BodyBytes: len(body), TTLMS: (2 * time.Hour).Milliseconds()}
	if got != want {
		t.Fatalf("result\n got %+v\nwant %+v", got, want)
	}
	// Stored as the Engine stores a response: it decodes, and replays.
	rec, err := e.store.Get(ctx, core.StoreKey(payments, "dead"))
	if err != nil || rec.State != core.StateCompleted || rec.Fingerprint != fingerprint("dead") {
		t.Fatalf("record %+v, %v", rec, err)
	}
	if d := time.Until(rec.ExpiresAt); d > 2*time.Hour || d < 2*time.Hour-time.Minute {
		t.Fatalf("expires in %v", d)
	}
	resp, err := core.BinarySerializer{}.Decode(rec.Payload)
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := http.Header{"Content-Type": {"application/json"}, "Location": {"/payments/pay_9"}, "X-Note": {"a", "b"}}
	if resp.Status != 201 || string(resp.Body) != body || fmt.Sprint(resp.Header) != fmt.Sprint(wantHdr) {
		t.Fatalf("response %d %v %q", resp.Status, resp.Header, resp.Body)
	}
	out2, replayed, err := e.eng.Do(ctx, payments, "dead", fingerprint("dead"), func(context.Context) ([]byte, error) {
		e.runs.Add(1)
		return nil, nil
	})
	if err != nil || !replayed || string(out2) != body || e.runs.Load() != 0 {
		t.Fatalf("Do after resolve: %q replayed=%v err=%v runs=%d", out2, replayed, err, e.runs.Load())
	}
	// The owner, had it survived, is fenced off.
	if err := e.store.Complete(ctx, core.StoreKey(payments, "dead"), owner, core.StateCompleted, []byte("late"), time.Hour); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("owner's Complete after resolve = %v", err)
	}
	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "dead")
	wantContains(t, out, "state        completed", "token        0 (resolved by an operator)", "status       201 Created", "headers      Content-Type: application/json")

	// Text output, an inline body, no headers, the default TTL.
	e.final(payments, "unc", core.StateUncertain, "failed")
	code, out, errOut = e.ctl("idem:", "resolve", "-scope", payments, "-key", "unc", "-status", "409", "-body", "already done")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "completed uncertain record "+e.store.RecordKey(core.StoreKey(payments, "unc"))+" with 409 Conflict (12-byte body), kept 24h0m0s: retries with the same payload replay it")
	rec, _ = e.store.Get(ctx, core.StoreKey(payments, "unc"))
	if resp, err := (core.BinarySerializer{}).Decode(rec.Payload); err != nil || resp.Status != 409 || string(resp.Body) != "already done" || len(resp.Header) != 0 {
		t.Fatalf("response %+v %v", resp, err)
	}
}

func TestResolveRefused(t *testing.T) {
	e := newEnv(t, "idem:")
	e.complete(payments, "done", "ok")
	e.claim(payments, "live", time.Minute, true)
	e.claim(payments, "expired", 10*time.Millisecond, false)
	if err := e.rdb.HSet(context.Background(), e.store.RecordKey(core.StoreKey(payments, "future")), "v", "9", "s", "4").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	for k, want := range map[string]string{
		"done":    "is completed: not resolvable. Retries replay its response; 'idemctl flush' deletes it.",
		"live":    "is a live committed claim: not resolvable. Its handler is still running",
		"expired": "is a claim in flight: not resolvable. Its owner died before declaring effects: the next request with the key takes it over",
		"future":  "is of an unknown format: not resolvable. It was written by another idemkit version",
	} {
		for _, args := range [][]string{{"-release"}, {"-status", "200", "-body", "x"}} {
			code, out, errOut := e.ctl("idem:", append([]string{"resolve", "-scope", payments, "-key", k}, args...)...)
			if code != exitNotResolvable || out != "" || !strings.Contains(errOut, "idemctl resolve: record "+e.store.RecordKey(core.StoreKey(payments, k))+" "+want) {
				t.Errorf("%s %v: exit %d\n%s%s", k, args, code, out, errOut)
			}
		}
	}
	// Nothing changed.
	if rec, err := e.store.Get(context.Background(), core.StoreKey(payments, "done")); err != nil || string(rec.Payload) == "" {
		t.Fatalf("record %+v %v", rec, err)
	}
	if rec, err := e.store.Get(context.Background(), core.StoreKey(payments, "live")); err != nil || !rec.Committed {
		t.Fatalf("record %+v %v", rec, err)
	}
}

func TestResolveUsage(t *testing.T) {
	sk := []string{"resolve", "-scope", payments, "-key", "k"}
	for _, c := range []struct {
		args []string
		out  string
	}{
		{[]string{"resolve", "-release"}, "-scope and -key are required"},
		{sk, "one of -release or -status is required"},
		{append(sk, "-release", "-status", "200"), "-release and -status exclude each other"},
		{append(sk, "-release", "-body", "x"), "-body and -header go with -status, not -release"},
		{append(sk, "-release", "-header", "A: b"), "-body and -header go with -status, not -release"},
		{append(sk, "-status", "99"), "-status 99: want an HTTP status from 200 to 599"},
		{append(sk, "-status", "600"), "want an HTTP status from 200 to 599"},
		{append(sk, "-status", "200", "-ttl", "0"), "-ttl 0s: want a positive duration"},
		{append(sk, "-status", "200", "-header", "no colon"), "want 'Name: value'"},
		{append(sk, "-status", "200", "-header", "Bad Name: x"), "want 'Name: value'"},
		{append(sk, "-status", "200", "-header", "set-cookie: s=1"), "header Set-Cookie is never stored nor replayed"},
		{append(sk, "-status", "200", "-header", "Content-Length: 3"), "header Content-Length is never stored nor replayed"},
	} {
		code, out, errOut := ctl(c.args...)
		if code != exitUsage || !strings.Contains(out+errOut, c.out) {
			t.Errorf("idemctl %q: exit %d, want %d with %q\n%s%s", c.args, code, exitUsage, c.out, out, errOut)
		}
	}
	code, _, errOut := ctl(append(sk, "-redis", "redis://127.0.0.1:1/0", "-status", "200", "-body", "@"+t.TempDir()+"/missing")...)
	if code != exitFailure || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing body file: exit %d: %s", code, errOut)
	}
	code, _, errOut = ctl("resolve", "-h")
	if code != exitOK || !strings.Contains(errOut, "usage: idemctl resolve -scope S -key K (-release | -status N") || !strings.Contains(errOut, "-header 'Name: value'") {
		t.Errorf("resolve -h: exit %d\n%s", code, errOut)
	}
	code, out, _ := ctl("help")
	if code != exitOK || !strings.Contains(out, "  resolve  settle a tombstone, an uncertain record or a stranded claim") ||
		!strings.Contains(out, "4 resolve found a record it cannot resolve") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}
