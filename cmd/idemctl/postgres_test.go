package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// pgEnv is a PostgreSQL database with the idempg schema under a table
// prefix of its own, and an Engine on its store: records are written as
// the servers write them, and idemctl reads them through -postgres.
type pgEnv struct {
	t      *testing.T
	dsn    string
	prefix string
	pool   *pgxpool.Pool
	store  *idempg.Store
	eng    *core.Engine
	runs   atomic.Int64
}

var pgPrefixSeq atomic.Int64

func newPGEnv(t *testing.T, engineOpts ...core.Option) *pgEnv {
	t.Helper()
	dsn := pgtest.DSN(t)
	prefix := fmt.Sprintf("ctl%d_", pgPrefixSeq.Add(1))
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := idempg.Migrate(ctx, pool, idempg.WithTablePrefix(prefix)); err != nil {
		t.Fatal(err)
	}
	store, err := idempg.New(pool, idempg.WithTablePrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	eng, err := core.New(append([]core.Option{core.WithStore(store), core.WithKeyValidator(core.Token()), core.WithLockWait(0)}, engineOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	return &pgEnv{t: t, dsn: dsn, prefix: prefix, pool: pool, store: store, eng: eng}
}

// ctl runs idemctl on the env's database and table prefix.
func (e *pgEnv) ctl(args ...string) (int, string, string) {
	e.t.Helper()
	return ctl(append([]string{"-postgres", e.dsn, "-table-prefix", e.prefix}, args...)...)
}

// rowKey is the row key idemctl names for key in payments.
func (e *pgEnv) rowKey(key string) string {
	return fmt.Sprintf(`%srecords key '\x%x'`, e.prefix, core.StoreKey(payments, key))
}

// complete runs the Engine on key, storing result.
func (e *pgEnv) complete(key, result string) {
	e.t.Helper()
	_, replayed, err := e.eng.Do(context.Background(), payments, key, fingerprint(key), func(context.Context) ([]byte, error) {
		e.runs.Add(1)
		return []byte(result), nil
	})
	if err != nil || replayed {
		e.t.Fatalf("Do(%q): replayed %v, err %v", key, replayed, err)
	}
}

// uncertain makes key uncertain through the Engine: its function declares
// effects, then fails.
func (e *pgEnv) uncertain(key string) {
	e.t.Helper()
	_, _, err := e.eng.Do(context.Background(), payments, key, fingerprint(key), func(ctx context.Context) ([]byte, error) {
		if err := core.DeclareEffects(ctx); err != nil {
			return nil, err
		}
		return nil, errors.New("provider answered 502")
	})
	if err == nil {
		e.t.Fatal("Do succeeded")
	}
	if rec, err := e.store.Get(context.Background(), core.StoreKey(payments, key)); err != nil || rec.State != core.StateUncertain {
		e.t.Fatalf("record %+v %v, want uncertain", rec, err)
	}
}

// claim claims key through the store with lease, committed when asked.
func (e *pgEnv) claim(key string, lease time.Duration, committed bool) uint64 {
	e.t.Helper()
	ctx := context.Background()
	sk := core.StoreKey(payments, key)
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

// final claims key and ends it with state and reason, kept for ttl.
func (e *pgEnv) final(key string, state core.State, reason string, ttl time.Duration) {
	e.t.Helper()
	tok := e.claim(key, time.Minute, state == core.StateUncertain)
	if err := e.store.Complete(context.Background(), core.StoreKey(payments, key), tok, state, []byte(reason), ttl); err != nil {
		e.t.Fatal(err)
	}
}

// replay runs the Engine on key and wants the stored result replayed.
func (e *pgEnv) replay(key, want string) {
	e.t.Helper()
	before := e.runs.Load()
	got, replayed, err := e.eng.Do(context.Background(), payments, key, fingerprint(key), func(context.Context) ([]byte, error) {
		e.runs.Add(1)
		return []byte("ran again"), nil
	})
	if err != nil || !replayed || string(got) != want || e.runs.Load() != before {
		e.t.Fatalf("Do(%q) = %q, replayed %v, err %v, runs %d; want %q replayed", key, got, replayed, err, e.runs.Load()-before, want)
	}
}

func TestPostgresInspect(t *testing.T) {
	e := newPGEnv(t)
	key := "8d2f6c1e-6a53-4a4f-9d2b-4f1f3c2a7b10"
	e.complete(key, `{"id":"pay_1"}`)

	code, out, errOut := e.ctl("inspect", "-scope", payments, "-key", key)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out,
		"table        "+e.prefix+"records",
		fmt.Sprintf(`row key      \x%x`, core.StoreKey(payments, key)),
		"scope        user_route:alice|POST /payments",
		"state        completed",
		"format       v1",
		"fingerprint  "+fingerprint(key).String(),
		"lease end    -",
		"status       200 OK",
		"body         14 bytes",
		"\n{\"id\":\"pay_1\"}\n",
	)
	if strings.Contains(out, "redis") {
		t.Errorf("PostgreSQL inspection speaks of Redis:\n%s", out)
	}

	// Global flags may follow the command too.
	code, out, errOut = ctl("inspect", "-postgres", e.dsn, "-table-prefix", e.prefix, "-scope", payments, "-key", key, "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	in := decode[inspection](t, out)
	rec, err := e.store.Get(context.Background(), core.StoreKey(payments, key))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Found || in.State != "completed" || in.Version != "1" || !in.KnownVersion || in.Table != e.prefix+"records" ||
		in.RedisKey != "" || in.Fingerprint != fingerprint(key).String() || in.LeaseEnd != nil || in.Token != rec.Token ||
		in.PayloadBytes != len(rec.Payload) || in.Resolvable {
		t.Fatalf("inspection %+v", in)
	}
	if in.TTLMS <= core.DefaultTTL.Milliseconds()-60_000 || in.TTLMS > core.DefaultTTL.Milliseconds() {
		t.Fatalf("ttl %dms, want about the 24h TTL", in.TTLMS)
	}
	if in.Response == nil || in.Response.Status != 200 || in.Response.Body != `{"id":"pay_1"}` {
		t.Fatalf("response %+v", in.Response)
	}

	code, out, _ = e.ctl("inspect", "-scope", payments, "-key", "nope")
	if code != exitNotFound {
		t.Fatalf("exit %d, want %d", code, exitNotFound)
	}
	wantContains(t, out, "no record", fmt.Sprintf(`row key  \x%x`, core.StoreKey(payments, "nope")))
}

func TestPostgresInspectStates(t *testing.T) {
	e := newPGEnv(t)
	e.final("tomb", core.StateTombstone, "response too large to store (12 MiB)", time.Hour)
	e.uncertain("unc")
	e.claim("live", time.Minute, true)
	e.claim("dead", 10*time.Millisecond, true)
	e.claim("busy", time.Minute, false)
	time.Sleep(30 * time.Millisecond)

	for _, tc := range []struct {
		key   string
		want  []string
		check func(in inspection) bool
	}{
		{"tomb", []string{"state        tombstone: the handler ran to completion but its response was not stored",
			"reason       response too large to store (12 MiB)", "resolve      idemctl resolve -scope 'user_route:alice|POST /payments' -key tomb -release"},
			func(in inspection) bool {
				return in.State == "tombstone" && in.Reason != nil && *in.Reason == "response too large to store (12 MiB)" && in.Resolvable
			}},
		{"unc", []string{"state        uncertain: the handler may have had effects, then failed", "resolve "},
			func(in inspection) bool { return in.State == "uncertain" && in.Reason != nil && in.Resolvable }},
		{"live", []string{"state        in_flight, committed: the handler declared effects; it is never taken over", " (in "},
			func(in inspection) bool {
				return in.State == "in_flight" && in.Committed && !in.Stranded && !in.Resolvable && *in.LeaseLeftMS > 0
			}},
		{"dead", []string{"state        in_flight, committed, stranded:", "ago: the owner is presumed dead)\n", "resolve "},
			func(in inspection) bool {
				return in.State == "in_flight" && in.Committed && in.Stranded && in.Resolvable && *in.LeaseLeftMS <= 0
			}},
		{"busy", []string{"state        in_flight\n", " (in "},
			func(in inspection) bool {
				return in.State == "in_flight" && !in.Committed && !in.Resolvable && *in.LeaseLeftMS > 0 &&
					*in.LeaseLeftMS <= time.Minute.Milliseconds()
			}},
	} {
		code, out, errOut := e.ctl("inspect", "-scope", payments, "-key", tc.key)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", tc.key, code, errOut)
		}
		wantContains(t, out, tc.want...)
		_, out, _ = e.ctl("inspect", "-scope", payments, "-key", tc.key, "-json")
		if in := decode[inspection](t, out); !tc.check(in) {
			t.Errorf("%s: inspection %+v", tc.key, in)
		}
	}
	// The first request after the stranded claim's lease makes it uncertain.
	res, err := e.store.Begin(context.Background(), core.StoreKey(payments, "dead"), core.Attempt{Fingerprint: fingerprint("dead"), Lease: time.Second, TTL: time.Hour})
	if err != nil || !res.Stranded {
		t.Fatalf("Begin: %+v %v", res, err)
	}
	_, out, _ := e.ctl("inspect", "-scope", payments, "-key", "dead")
	wantContains(t, out, "state        uncertain", "reason       owner lost its lease after declaring effects", "lease end    -")
}

// A row of a format version this idemkit does not know: the store
// refuses it (core.ErrCorruptRecord); idemctl says it is there and what
// it is, flushes it, and refuses to resolve it.
func TestPostgresUnknownFormat(t *testing.T) {
	e := newPGEnv(t)
	e.complete("future", "ok")
	if _, err := e.pool.Exec(context.Background(), `UPDATE `+e.prefix+`records SET version = 9 WHERE key = $1`, []byte(core.StoreKey(payments, "future"))); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.ctl("inspect", "-scope", payments, "-key", "future")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "state        unknown", "format       unknown to this idemctl (record format version 9, state 2;")
	_, out, _ = e.ctl("inspect", "-scope", payments, "-key", "future", "-json")
	if in := decode[inspection](t, out); !in.Found || in.KnownVersion || in.State != "unknown" || in.FormatError == "" || in.Resolvable {
		t.Fatalf("inspection %+v", in)
	}
	code, _, errOut = e.ctl("resolve", "-scope", payments, "-key", "future", "-release")
	if code != exitNotResolvable || !strings.Contains(errOut, "is of an unknown format: not resolvable. It was written by another idemkit version") {
		t.Fatalf("resolve: exit %d: %s", code, errOut)
	}
	_, out, _ = e.ctl("flush", "-scope", payments, "-key", "future", "-json")
	if r := decode[flushResult](t, out); !r.Existed || r.State != "unknown" {
		t.Fatalf("flush %+v", r)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+e.prefix+`records`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows left, %v", n, err)
	}
}

func TestPostgresFlush(t *testing.T) {
	e := newPGEnv(t)
	e.complete("k", "first")
	e.replay("k", "first")

	code, out, errOut := e.ctl("flush", "-scope", payments, "-key", "k")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "deleted completed record "+e.rowKey("k")+"\n")
	if _, err := e.store.Get(context.Background(), core.StoreKey(payments, "k")); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get after flush: %v", err)
	}
	code, out, _ = e.ctl("flush", "-scope", payments, "-key", "k")
	if code != exitOK {
		t.Fatalf("second flush: exit %d", code)
	}
	wantContains(t, out, "no record "+e.rowKey("k")+": nothing to delete")

	// The next request with the key runs afresh.
	e.complete("k", "second")
	if e.runs.Load() != 2 {
		t.Fatalf("function ran %d times, want 2", e.runs.Load())
	}

	// An in-flight claim is deleted too: its owner's completion is fenced off.
	tok := e.claim("busy", time.Minute, false)
	_, out, _ = e.ctl("flush", "-scope", payments, "-key", "busy", "-json")
	if r := decode[flushResult](t, out); !r.Existed || r.State != "in_flight" || r.Table != e.prefix+"records" || r.RedisKey != "" {
		t.Fatalf("flush %+v", r)
	}
	if err := e.store.Complete(context.Background(), core.StoreKey(payments, "busy"), tok, core.StateCompleted, []byte("late"), time.Hour); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("owner's Complete after flush = %v", err)
	}
}

func TestPostgresStats(t *testing.T) {
	e := newPGEnv(t)
	e.complete("done1", "ok")
	e.complete("done2", "ok")
	e.final("tomb", core.StateTombstone, "too large", time.Hour)
	e.uncertain("unc")
	e.claim("live", time.Minute, false)
	e.claim("committed", time.Minute, true)
	e.final("gone", core.StateCompleted, "x", time.Millisecond)
	time.Sleep(20 * time.Millisecond)

	code, out, errOut := e.ctl("stats", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := decode[pgStatistics](t, out)
	want := pgStatistics{TablePrefix: e.prefix, Records: 6, InFlight: 2, Completed: 2, Tombstone: 1, Uncertain: 1, Expired: 1}
	if got != want {
		t.Fatalf("stats\n got %+v\nwant %+v", got, want)
	}
	_, out, _ = e.ctl("stats")
	wantContains(t, out,
		"table      "+e.prefix+"records\n",
		"records    6\n",
		"  in flight  2\n",
		"  completed  2\n",
		"  tombstone  1\n",
		"  uncertain  1\n",
		"expired    1   (absent to every call; idempg's Purge deletes them)\n",
	)
	// Another table prefix is another store.
	code, out, errOut = ctl("-postgres", e.dsn, "-table-prefix", newPGEnv(t).prefix, "stats", "-json")
	if got := decode[pgStatistics](t, out); code != exitOK || got.Records != 0 || got.Expired != 0 {
		t.Fatalf("empty store: exit %d %+v %s", code, got, errOut)
	}
}

func TestPostgresResolveRelease(t *testing.T) {
	e := newPGEnv(t)
	e.uncertain("unc")
	e.final("tomb", core.StateTombstone, "too large", time.Hour)
	e.claim("dead", 10*time.Millisecond, true)
	time.Sleep(30 * time.Millisecond)
	for k, was := range map[string]string{"unc": "uncertain", "tomb": "tombstone", "dead": "stranded"} {
		code, out, errOut := e.ctl("resolve", "-scope", payments, "-key", k, "-release")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", k, code, errOut)
		}
		wantContains(t, out, "released "+was+" record "+e.rowKey(k)+": the next request with its key runs afresh\n")
		if _, err := e.store.Get(context.Background(), core.StoreKey(payments, k)); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("%s: Get after release: %v", k, err)
		}
	}
	// The next request runs once.
	e.complete("unc", "paid")
	e.replay("unc", "paid")

	code, _, errOut := e.ctl("resolve", "-scope", payments, "-key", "nope", "-release")
	if code != exitNotFound || !strings.Contains(errOut, "no record "+e.rowKey("nope")+": nothing to resolve") {
		t.Fatalf("absent: exit %d: %s", code, errOut)
	}
}

func TestPostgresResolveComplete(t *testing.T) {
	e := newPGEnv(t)
	ctx := context.Background()
	e.uncertain("unc")
	code, out, errOut := e.ctl("resolve", "-scope", payments, "-key", "unc", "-status", "201",
		"-header", "Content-Type: application/json", "-body", `{"id":"pay_9"}`, "-ttl", "2h", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := decode[resolveResult](t, out)
	want := resolveResult{Scope: payments, Key: "unc", recordRef: recordRef{Table: e.prefix + "records", RowKey: fmt.Sprintf(`\x%x`, core.StoreKey(payments, "unc"))},
		Was: "uncertain", Action: "completed", Status: 201, BodyBytes: 14, TTLMS: (2 * time.Hour).Milliseconds()}
	if got != want {
		t.Fatalf("result\n got %+v\nwant %+v", got, want)
	}
	rec, err := e.store.Get(ctx, core.StoreKey(payments, "unc"))
	if err != nil || rec.State != core.StateCompleted || rec.Token != 0 || rec.Fingerprint != fingerprint("unc") {
		t.Fatalf("record %+v %v", rec, err)
	}
	if d := time.Until(rec.ExpiresAt); d > 2*time.Hour || d < 2*time.Hour-time.Minute {
		t.Fatalf("expires in %v", d)
	}
	e.replay("unc", `{"id":"pay_9"}`)
	_, out, _ = e.ctl("inspect", "-scope", payments, "-key", "unc")
	wantContains(t, out, "state        completed", "token        0 (resolved by an operator)", "status       201 Created", "headers      Content-Type: application/json")

	// A stranded claim, text output; its owner, had it survived, is fenced off.
	owner := e.claim("dead", 10*time.Millisecond, true)
	time.Sleep(30 * time.Millisecond)
	code, out, errOut = e.ctl("resolve", "-scope", payments, "-key", "dead", "-status", "409", "-body", "already done")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "completed stranded record "+e.rowKey("dead")+" with 409 Conflict (12-byte body), kept 24h0m0s: retries with the same payload replay it")
	if err := e.store.Complete(ctx, core.StoreKey(payments, "dead"), owner, core.StateCompleted, []byte("late"), time.Hour); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("owner's Complete after resolve = %v", err)
	}
	e.replay("dead", "already done")

	// Refused: a completed record, a live committed claim; nothing changes.
	e.complete("done", "ok")
	e.claim("live", time.Minute, true)
	for k, wantErr := range map[string]string{
		"done": "is completed: not resolvable. Retries replay its response",
		"live": "is a live committed claim: not resolvable. Its handler is still running",
	} {
		code, out, errOut := e.ctl("resolve", "-scope", payments, "-key", k, "-status", "200", "-body", "x")
		if code != exitNotResolvable || out != "" || !strings.Contains(errOut, "idemctl resolve: record "+e.rowKey(k)+" "+wantErr) {
			t.Errorf("%s: exit %d\n%s%s", k, code, out, errOut)
		}
	}
	e.replay("done", "ok")
	if rec, err := e.store.Get(ctx, core.StoreKey(payments, "live")); err != nil || !rec.Committed || rec.State != core.StateInFlight {
		t.Fatalf("live record %+v %v", rec, err)
	}
}

// Signed and encrypted records behave as on Redis: the Engine on the
// PostgreSQL store verifies, opens and seals them.
func TestPostgresSigned(t *testing.T) {
	t.Setenv(envSigningKey, "")
	t.Setenv(envEncrypt, "")
	keys, err := core.ParseRecordKeys(ringK2K1)
	if err != nil {
		t.Fatal(err)
	}
	for _, encrypt := range []bool{false, true} {
		opts := []core.Option{core.WithRecordKeys(keys...)}
		var ring []string
		how := "signed by key k2"
		if encrypt {
			opts = append(opts, core.WithRecordEncryption())
			ring = []string{"-encrypt"}
			how = "encrypted with key k2"
		}
		e := newPGEnv(t, opts...)
		ctx := context.Background()
		e.complete("done", `{"id":"pay_1"}`)
		e.uncertain("unc")

		// Without the ring: the key that sealed it, none of its contents.
		code, out, errOut := e.ctl("inspect", "-scope", payments, "-key", "done")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantContains(t, out, "seal         "+how+"; not verified")
		if strings.Contains(out, "pay_1") {
			t.Fatalf("unverified contents shown:\n%s", out)
		}
		// With it: verified and opened.
		withRing := append([]string{"-signing-key", ringK2K1}, ring...)
		code, out, errOut = e.ctl(append(withRing, "inspect", "-scope", payments, "-key", "done")...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantContains(t, out, "seal         "+how+"\n", "verify       verifies under the key ring", "status       200 OK", `{"id":"pay_1"}`)
		noSecret(t, out, errOut)

		// A record whose payload was changed in the table does not verify.
		if _, err := e.pool.Exec(ctx, `UPDATE `+e.prefix+`records SET payload = $2 WHERE key = $1`,
			[]byte(core.StoreKey(payments, "done")), []byte("forged")); err != nil {
			t.Fatal(err)
		}
		code, out, _ = e.ctl(append(withRing, "inspect", "-scope", payments, "-key", "done", "-json")...)
		if in := decode[inspection](t, out); code != exitUnverified || in.DoesNotVerify == "" || in.Verified || in.Response != nil {
			t.Fatalf("forged: exit %d, inspection %+v", code, in)
		}

		// resolve -status: refused without the ring, sealed with it.
		respArgs := []string{"resolve", "-scope", payments, "-key", "unc", "-status", "201", "-body", `{"id":"pay_7"}`}
		code, _, errOut = e.ctl(respArgs...)
		if code != exitUsage || !strings.Contains(errOut, "is signed (key k2), so the servers sign their records and would refuse (503) an unsigned response") {
			t.Fatalf("without the ring: exit %d: %s", code, errOut)
		}
		code, out, errOut = e.ctl(append(withRing, append(respArgs, "-json")...)...)
		if r := decode[resolveResult](t, out); code != exitOK || r.SignedBy != "k2" || r.Encrypted != encrypt || r.Was != "uncertain" {
			t.Fatalf("with the ring: exit %d %+v %s", code, r, errOut)
		}
		rec, err := e.store.Get(ctx, core.StoreKey(payments, "unc"))
		if id, enc, sealed := core.SealInfo(rec.Payload); err != nil || !sealed || id != "k2" || enc != encrypt {
			t.Fatalf("record %+v %v: sealed %v by %q encrypted %v", rec, err, sealed, id, enc)
		}
		e.replay("unc", `{"id":"pay_7"}`) // the servers verify and replay it
	}
}

func TestPostgresStoreChoice(t *testing.T) {
	t.Setenv(envRedisURL, "")
	t.Setenv(envPostgresURL, "")
	for _, c := range []struct {
		env  map[string]string
		args []string
		code int
		out  string
	}{
		{nil, []string{"-redis", "redis://localhost:1/0", "-postgres", "postgres://localhost:1/db", "stats"}, exitUsage, "-redis and -postgres exclude each other"},
		{nil, []string{"stats", "-postgres", "postgres://localhost:1/db", "-redis", "redis://localhost:1/0"}, exitUsage, "-redis and -postgres exclude each other"},
		{map[string]string{envRedisURL: "redis://localhost:1/0", envPostgresURL: "postgres://localhost:1/db"}, []string{"stats"}, exitUsage,
			"both $REDIS_URL and $DATABASE_URL are set: choose the store with -redis or -postgres"},
		{nil, []string{"-redis", "redis://localhost:1/0", "-table-prefix", "x_", "stats"}, exitUsage, "-table-prefix is an option of the PostgreSQL store"},
		{nil, []string{"-table-prefix", "x_", "stats"}, exitUsage, "-table-prefix is an option of the PostgreSQL store"},
		{nil, []string{"-postgres", "postgres://localhost:1/db", "-prefix", "idem:", "inspect", "-scope", "global", "-key", "k"}, exitUsage, "-prefix is an option of the Redis store"},
		{map[string]string{envPostgresURL: "postgres://localhost:1/db"}, []string{"-prefix", "idem:", "stats"}, exitUsage, "-prefix is an option of the Redis store"},
		{nil, []string{"-postgres", "postgres://localhost:1/db", "-table-prefix", "Bad-Prefix", "stats"}, exitFailure, `table prefix "Bad-Prefix"`},
		{nil, []string{"-postgres", "postgres://u:s3cr3t@localhost:notaport/db", "stats"}, exitFailure, "invalid PostgreSQL URL"},
		{nil, []string{"-postgres", "postgres://u:s3cr3t@127.0.0.1:1/db?sslmode=disable", "-timeout", "2s", "stats"}, exitFailure, "idemctl stats: postgres postgres://u:xxxxx@127.0.0.1:1/db"},
		{nil, []string{"-postgres", "host=127.0.0.1 port=1 password=s3cr3t sslmode=disable", "-timeout", "2s", "flush", "-scope", "global", "-key", "k"}, exitFailure, "password=xxxxx"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		code, out, errOut := ctl(c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) || strings.Contains(out+errOut, "s3cr3t") {
			t.Errorf("idemctl %q (env %v): exit %d, want %d with %q\n%s%s", c.args, c.env, code, c.code, c.out, out, errOut)
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}
	code, out, errOut := ctl("-h")
	if code != exitOK || !strings.Contains(errOut, "-postgres URL") || !strings.Contains(errOut, "-table-prefix prefix") {
		t.Errorf("usage lacks the PostgreSQL flags:\n%s%s", out, errOut)
	}
}

// $DATABASE_URL chooses the PostgreSQL store when no flag does.
func TestPostgresURLFromEnv(t *testing.T) {
	e := newPGEnv(t)
	e.complete("k", "ok")
	t.Setenv(envRedisURL, "")
	t.Setenv(envPostgresURL, e.dsn)
	code, out, errOut := ctl("-table-prefix", e.prefix, "stats", "-json")
	if got := decode[pgStatistics](t, out); code != exitOK || got.Completed != 1 {
		t.Fatalf("exit %d %+v %s", code, got, errOut)
	}
	// A flag wins over the environment.
	code, _, errOut = ctl("-redis", "redis://127.0.0.1:1/0", "-timeout", "1s", "stats")
	if code != exitFailure || !strings.Contains(errOut, "idemctl stats: redis redis://127.0.0.1:1/0") {
		t.Fatalf("-redis with $DATABASE_URL set: exit %d: %s", code, errOut)
	}
}

// Without server binaries the PostgreSQL tests skip, except with CI=true,
// where they fail: CI must never pass by testing nothing.
func TestPostgresHarnessFailsInCIWithoutBinaries(t *testing.T) {
	pgtest.DSN(t) // skips (or fails in CI) itself without binaries
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresFlush$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_BIN="+t.TempDir(), "CI="+ci)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("true")
	if err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("CI=true without binaries: err %v, output:\n%s", err, out)
	}
	out, err = run("")
	if err != nil || !strings.Contains(out, "SKIP") {
		t.Fatalf("without binaries outside CI: err %v, want a skip; output:\n%s", err, out)
	}
}

// -timeout bounds the PostgreSQL store's calls as it does Redis's: against
// a server that accepts connections and never answers, every command
// gives up soon after it and says why.
func TestPostgresTimeoutStalled(t *testing.T) {
	addr := stalledServer(t)
	for _, args := range [][]string{
		{"stats"},
		{"inspect", "-scope", payments, "-key", "k"},
		{"flush", "-scope", payments, "-key", "k"},
		{"resolve", "-scope", payments, "-key", "k", "-release"},
	} {
		start := time.Now()
		code, out, errOut := ctl(append([]string{"-postgres", "postgres://u:s3cr3t@" + addr + "/db?sslmode=disable&connect_timeout=30", "-timeout", "300ms"}, args...)...)
		took := time.Since(start)
		if code != exitFailure || took > 3*time.Second || !strings.Contains(errOut, "no answer within -timeout 300ms") || strings.Contains(errOut, "s3cr3t") {
			t.Errorf("%v: exit %d after %v\n%s%s", args, code, took.Round(time.Millisecond), out, errOut)
		}
	}
}

// A table prefix (or database) without the idempg schema: the error says
// what to check.
func TestPostgresNoSchema(t *testing.T) {
	e := newPGEnv(t)
	for _, args := range [][]string{
		{"stats"},
		{"inspect", "-scope", payments, "-key", "k"},
		{"flush", "-scope", payments, "-key", "k"},
		{"resolve", "-scope", payments, "-key", "k", "-release"},
	} {
		code, out, errOut := ctl(append([]string{"-postgres", e.dsn, "-table-prefix", "nosuch_"}, args...)...)
		if code != exitFailure || !strings.Contains(errOut, `no idempg schema with table prefix "nosuch_" in this database: check -table-prefix, or run idempg.Migrate`) {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}
