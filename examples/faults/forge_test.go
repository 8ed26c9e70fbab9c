package faults

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/servertest"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// The record keys of the signed servers: a ring whose first key signs.
// Test keys, public like this file.
var (
	signingRing = "k2:" + strings.Repeat("5a", 32) + ",k1:" + strings.Repeat("a5", 32)
)

// TestForgedRecords: someone who can write to Redis but does not hold
// the signing key forges a completed record for a key, tampers with the
// body of a genuine one, copies (transplants) a genuine record onto
// another key, and forges an in-flight claim. Servers started with
// -signing-key (Gin, Echo; Fiber through IDEMKIT_SIGNING_KEY) refuse each
// one with 503 problem+json (RECORD_REJECTED in their log and metrics),
// never replay those bytes and run nothing. The control, an unsigned
// server on its own database, shows the threat: it replays the forged,
// tampered and transplanted bytes as if its handler had produced them,
// and honours the forged claim with 409, so signing is what stops them.
func TestForgedRecords(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	base := "redis://" + rds.Addr
	flags := []string{"-lock-wait", "200ms"}
	type target struct {
		srv    *servertest.Server
		db     int
		signed bool
	}
	targets := []target{
		{servertest.Start(t, "gin", append(flags, "-redis", base+"/0", "-signing-key", signingRing)...), 0, true},
		{servertest.Start(t, "echo", append(flags, "-redis", base+"/0", "-signing-key", signingRing)...), 0, true},
		{servertest.StartEnv(t, "fiber", []string{"IDEMKIT_SIGNING_KEY=" + signingRing}, append(flags, "-redis", base+"/0")...), 0, true},
		{servertest.Start(t, "gin", append(flags, "-redis", base+"/1")...), 1, false},
	}
	for _, tg := range targets {
		name := tg.srv.Name
		if !tg.signed {
			name = "unsigned-" + name
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(&redis.Options{Addr: rds.Addr, DB: tg.db, ContextTimeoutEnabled: true})
			defer rdb.Close()
			abuse(t, tg.srv, rdb, tg.signed)
		})
	}
}

// abuse plays the four abuses against srv, whose records live in rdb.
func abuse(t *testing.T, srv *servertest.Server, rdb *redis.Client, signed bool) {
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	store := idemredis.New(rdb)
	recordKey := func(key string) string { return store.RecordKey(core.StoreKey(paymentScope, key)) }
	pay := func(key string) servertest.Reply {
		t.Helper()
		r, err := servertest.Pay(ctx, c, srv.Base, "/payments", key)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	runs := func() int64 { t.Helper(); return srv.MustStats(t).Payments }

	// A genuine payment: its record is the material of the abuses (the
	// same request body, so the same fingerprint, for every key).
	genuine := servertest.NewKey()
	orig := pay(genuine)
	if orig.Status != http.StatusCreated || orig.Idem() != "Original" {
		t.Fatalf("genuine payment: %v", orig)
	}
	fields, err := rdb.HGetAll(ctx, recordKey(genuine)).Result()
	if err != nil || fields["s"] != "2" {
		t.Fatalf("the genuine record in Redis: %v, %v", fields, err)
	}
	write := func(key string, f map[string]string, ttl time.Duration) {
		t.Helper()
		rk := recordKey(key)
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, rk)
			p.HSet(ctx, rk, f)
			p.PExpire(ctx, rk, ttl)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	with := func(over map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range fields {
			m[k] = v
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}

	// refused checks the signed server's answer to an abuse: 503
	// problem+json, none of the planted bytes, and no run.
	check := func(what string, r servertest.Reply, planted string, before int64) {
		t.Helper()
		if n := runs(); n != before {
			t.Errorf("%s: the handler ran %d times", what, n-before)
		}
		if !signed {
			return
		}
		if replyLabel(r) != "503 store-unavailable" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %v, want 503 problem+json", what, r)
		}
		if planted != "" && strings.Contains(r.Body, planted) {
			t.Errorf("%s: the answer carries the planted bytes: %v", what, r)
		}
	}

	// 1. A forged completed record, encoded as the store encodes one,
	// unsigned: what anyone with write access to Redis can make.
	forgedBody := `{"id":"pay_forged","amount":1000,"currency":"EUR","user":"alice"}`
	payload, _ := core.BinarySerializer{}.Encode(nil, &core.Response{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Location": {"/payments/pay_forged"}},
		Body:   []byte(forgedBody),
	})
	forged := servertest.NewKey()
	write(forged, with(map[string]string{"p": string(payload)}), 10*time.Minute)
	before := runs()
	r := pay(forged)
	check("forged record", r, "pay_forged", before)
	if !signed && (r.Status != http.StatusCreated || r.Idem() != "Repeated" || r.Body != forgedBody) {
		t.Errorf("unsigned server, forged record: %v; the threat is that it replays %s", r, forgedBody)
	}

	// 2. The genuine record with its body's payment id changed (one
	// digit, so every length stays right).
	tampered := servertest.NewKey()
	tr := pay(tampered)
	if tr.Status != http.StatusCreated || tr.Idem() != "Original" {
		t.Fatalf("payment to tamper with: %v", tr)
	}
	tf, err := rdb.HGetAll(ctx, recordKey(tampered)).Result()
	if err != nil {
		t.Fatal(err)
	}
	id := payID(t, tr.Body)
	fakeID := id[:len(id)-1] + strconv.Itoa((int(id[len(id)-1]-'0')+1)%10)
	if !strings.Contains(tf["p"], `"id":"`+id+`"`) {
		t.Fatalf("the stored payload does not hold the body in clear: %q", tf["p"])
	}
	tf["p"] = strings.Replace(tf["p"], `"id":"`+id+`"`, `"id":"`+fakeID+`"`, 1)
	write(tampered, tf, 10*time.Minute)
	before = runs()
	r = pay(tampered)
	check("tampered record", r, `"id":"`+fakeID+`"`, before)
	if !signed && (r.Idem() != "Repeated" || !strings.Contains(r.Body, `"id":"`+fakeID+`"`)) {
		t.Errorf("unsigned server, tampered record: %v; the threat is that it replays %s", r, fakeID)
	}

	// 3. The genuine record copied whole onto a key that never ran.
	transplanted := servertest.NewKey()
	write(transplanted, fields, 10*time.Minute)
	before = runs()
	r = pay(transplanted)
	check("transplanted record", r, orig.Body, before)
	if !signed && (r.Idem() != "Repeated" || r.Body != orig.Body) {
		t.Errorf("unsigned server, transplanted record: %v; the threat is that it replays %s", r, orig.Body)
	}

	// 4. A forged in-flight claim with a long lease: honoured, it would
	// block the key with 409 for a minute.
	claimed := servertest.NewKey()
	write(claimed, map[string]string{
		"v": fields["v"], "s": "1", "f": fields["f"], "t": "1000000000000001",
		"l": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10), "n": "forged:1000000000000001",
	}, time.Minute)
	before = runs()
	r = pay(claimed)
	check("forged claim", r, "", before)
	if !signed && replyLabel(r) != "409 request-in-flight" {
		t.Errorf("unsigned server, forged claim: %v, want 409 (the claim honoured)", r)
	}

	// The genuine record still replays, and a genuine claim is honoured
	// with 409 while its payment runs: signing refuses only what it must.
	if r := pay(genuine); r.Status != http.StatusCreated || r.Idem() != "Repeated" || r.Body != orig.Body {
		t.Errorf("genuine record: %v, want its replay", r)
	}
	running := servertest.NewKey()
	before = runs()
	done := make(chan servertest.Reply, 1)
	go func() {
		r, _ := servertest.Pay(ctx, c, srv.Base, "/payments?delay=1500ms", running)
		done <- r
	}()
	srv.WaitRunning(t, before+1)
	if r, err := servertest.Pay(ctx, c, srv.Base, "/payments?delay=1500ms", running); err != nil || replyLabel(r) != "409 request-in-flight" {
		t.Errorf("duplicate of a genuine claim in flight: %v, %v; want 409", r, err)
	}
	if r := <-done; r.Status != http.StatusCreated || r.Idem() != "Original" {
		t.Errorf("the genuine claim's payment: %v", r)
	}

	if signed {
		if got := strings.Count(srv.Log.String(), "RECORD_REJECTED"); got < 4 {
			t.Errorf("RECORD_REJECTED logged %d times, want once per abuse (4)\n%s", got, srv.Log)
		}
		m, err := srv.Metrics(c)
		if err != nil || !strings.Contains(m, `idempotency_events_total{event="RECORD_REJECTED"}`) {
			t.Errorf("GET /metrics has no RECORD_REJECTED count (%v)", err)
		}
	}
}

// payID returns the id of a payment body.
func payID(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `"id":"`)
	id, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || !strings.HasPrefix(id, "pay_") {
		t.Fatalf("no payment id in %s", body)
	}
	return id
}
