package idemredis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// BenchmarkScriptCPU measures the Redis server time of each store script,
// the figure SPEC §7 bounds at 5 µs: INFO commandstats usec_per_call of
// EVALSHA, reset before each case. It needs a real redis-server. The
// metric is redis-µs/call; ns/op is the client's round trip and means
// little here. Every case runs unsigned (its plain name) and then with
// claims signed (signed/...), a 40-byte core.Attempt.Sig as the Engine's
// record signing sends.
//
//	go test -run '^$' -bench ScriptCPU -benchtime 20000x ./storage/redis/
func BenchmarkScriptCPU(b *testing.B) {
	redistest.Require(b)
	addr := redistest.Server(b)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	st := idemredis.New(rdb, idemredis.WithPrefix("cpu:"))
	if err := st.LoadScripts(ctx); err != nil {
		b.Fatal(err)
	}
	payload := []byte(strings.Repeat("p", 1024))
	var seq uint64
	var sig []byte // the running case's claims' signature
	attempt := func(lease time.Duration) core.Attempt {
		seq++
		return core.Attempt{Fingerprint: core.Fingerprint{1}, Nonce: seq, Lease: lease, TTL: time.Hour, Sig: sig}
	}
	claim := func(b *testing.B, k string, lease time.Duration) uint64 {
		res, err := st.Begin(ctx, k, attempt(lease))
		if err != nil || res.Outcome != core.OutcomeOriginal {
			b.Fatalf("claim %s: %v %v", k, res.Outcome, err)
		}
		return res.Token
	}
	keys := func(b *testing.B) []string {
		ks := make([]string, b.N)
		for i := range ks {
			ks[i] = fmt.Sprintf("%s:%d:%d", b.Name(), time.Now().UnixNano(), i)
		}
		return ks
	}
	// stranded returns b.N keys whose committed claims' leases have
	// expired, which no Begin has seen yet.
	stranded := func(b *testing.B) ([]string, []uint64) {
		ks := keys(b)
		toks := make([]uint64, len(ks))
		for i, k := range ks {
			toks[i] = claim(b, k, time.Millisecond)
			if err := st.Commit(ctx, k, toks[i], nil); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
		return ks, toks
	}
	// uncertain returns b.N keys holding uncertain records.
	uncertain := func(b *testing.B) []string {
		ks := keys(b)
		for _, k := range ks {
			if err := st.Complete(ctx, k, claim(b, k, time.Minute), core.StateUncertain, []byte("failed"), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		return ks
	}
	uniq := func(b *testing.B) string { return fmt.Sprintf("%s:%d", b.Name(), time.Now().UnixNano()) }
	want := func(b *testing.B, res core.BeginResult, err error, o core.Outcome) {
		if err != nil || res.Outcome != o {
			b.Fatalf("Begin = %v, %v; want %v", res.Outcome, err, o)
		}
	}

	cases := []struct {
		name string
		// setup prepares b.N operations and returns the one to run i-th.
		setup func(b *testing.B) func(i int)
	}{
		{"begin/claim", func(b *testing.B) func(int) {
			ks := keys(b)
			return func(i int) {
				res, err := st.Begin(ctx, ks[i], attempt(time.Minute))
				want(b, res, err, core.OutcomeOriginal)
			}
		}},
		{"begin/replay", func(b *testing.B) func(int) {
			k := uniq(b)
			if err := st.Complete(ctx, k, claim(b, k, time.Minute), core.StateCompleted, payload, time.Hour); err != nil {
				b.Fatal(err)
			}
			return func(int) {
				res, err := st.Begin(ctx, k, attempt(time.Minute))
				want(b, res, err, core.OutcomeRepeated)
			}
		}},
		{"begin/inflight", func(b *testing.B) func(int) {
			k := uniq(b)
			claim(b, k, time.Hour)
			return func(int) {
				res, err := st.Begin(ctx, k, attempt(time.Minute))
				want(b, res, err, core.OutcomeConflict)
			}
		}},
		{"begin/mismatch", func(b *testing.B) func(int) {
			k := uniq(b)
			claim(b, k, time.Hour)
			return func(int) {
				res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: core.Fingerprint{2}, Lease: time.Minute, TTL: time.Hour})
				want(b, res, err, core.OutcomeMismatch)
			}
		}},
		{"begin/takeover", func(b *testing.B) func(int) {
			ks := keys(b)
			for _, k := range ks {
				claim(b, k, time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond)
			return func(i int) {
				res, err := st.Begin(ctx, ks[i], attempt(time.Minute))
				want(b, res, err, core.OutcomeOriginal)
				if !res.TookOver {
					b.Fatal("not a takeover")
				}
			}
		}},
		{"begin/resend", func(b *testing.B) func(int) {
			k := uniq(b)
			a := attempt(time.Hour)
			first, err := st.Begin(ctx, k, a)
			want(b, first, err, core.OutcomeOriginal)
			return func(int) {
				res, err := st.Begin(ctx, k, a)
				want(b, res, err, core.OutcomeOriginal)
				if res.Token != first.Token {
					b.Fatal("a resent Begin got another token")
				}
			}
		}},
		{"complete", func(b *testing.B) func(int) {
			ks := keys(b)
			toks := make([]uint64, len(ks))
			for i, k := range ks {
				toks[i] = claim(b, k, time.Minute)
			}
			return func(i int) {
				if err := st.Complete(ctx, ks[i], toks[i], core.StateCompleted, payload, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"begin/unavailable", func(b *testing.B) func(int) {
			k := uniq(b)
			if err := st.Complete(ctx, k, claim(b, k, time.Minute), core.StateTombstone, []byte("response too large"), time.Hour); err != nil {
				b.Fatal(err)
			}
			return func(int) {
				res, err := st.Begin(ctx, k, attempt(time.Minute))
				want(b, res, err, core.OutcomeUnavailable)
			}
		}},
		{"begin/uncertain", func(b *testing.B) func(int) {
			k := uniq(b)
			if err := st.Complete(ctx, k, claim(b, k, time.Minute), core.StateUncertain, []byte("handler failed after declaring effects"), time.Hour); err != nil {
				b.Fatal(err)
			}
			return func(int) {
				res, err := st.Begin(ctx, k, attempt(time.Minute))
				want(b, res, err, core.OutcomeUncertain)
			}
		}},
		{"begin/inflight-committed", func(b *testing.B) func(int) {
			k := uniq(b)
			if err := st.Commit(ctx, k, claim(b, k, time.Hour), nil); err != nil {
				b.Fatal(err)
			}
			return func(int) {
				res, err := st.Begin(ctx, k, attempt(time.Minute))
				want(b, res, err, core.OutcomeConflict)
			}
		}},
		{"begin/mismatch-committed", func(b *testing.B) func(int) {
			k := uniq(b)
			if err := st.Commit(ctx, k, claim(b, k, time.Hour), nil); err != nil {
				b.Fatal(err)
			}
			return func(int) {
				res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: core.Fingerprint{2}, Lease: time.Minute, TTL: time.Hour})
				want(b, res, err, core.OutcomeMismatch)
			}
		}},
		{"begin/stranded", func(b *testing.B) func(int) {
			ks, _ := stranded(b)
			return func(i int) {
				res, err := st.Begin(ctx, ks[i], attempt(time.Minute))
				want(b, res, err, core.OutcomeUncertain)
				if !res.Stranded {
					b.Fatal("not stranded")
				}
			}
		}},
		{"commit", func(b *testing.B) func(int) {
			ks := keys(b)
			toks := make([]uint64, len(ks))
			for i, k := range ks {
				toks[i] = claim(b, k, time.Minute)
			}
			return func(i int) {
				if err := st.Commit(ctx, ks[i], toks[i], nil); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"complete/tombstone", func(b *testing.B) func(int) {
			ks := keys(b)
			toks := make([]uint64, len(ks))
			for i, k := range ks {
				toks[i] = claim(b, k, time.Minute)
			}
			return func(i int) {
				if err := st.Complete(ctx, ks[i], toks[i], core.StateTombstone, []byte("response too large"), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"complete/replaces-stranded", func(b *testing.B) func(int) {
			ks, toks := stranded(b)
			for _, k := range ks {
				if res, err := st.Begin(ctx, k, attempt(time.Minute)); err != nil || !res.Stranded {
					b.Fatalf("Begin = %+v, %v; want stranded", res, err)
				}
			}
			return func(i int) {
				if err := st.Complete(ctx, ks[i], toks[i], core.StateCompleted, payload, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"resolve/release", func(b *testing.B) func(int) {
			ks := uncertain(b)
			return func(i int) {
				if err := st.Resolve(ctx, ks[i], nil, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"resolve/complete", func(b *testing.B) func(int) {
			ks := uncertain(b)
			return func(i int) {
				if err := st.Resolve(ctx, ks[i], payload, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"resolve/stranded-claim", func(b *testing.B) func(int) {
			ks, _ := stranded(b)
			return func(i int) {
				if err := st.Resolve(ctx, ks[i], payload, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"resolve/not-resolvable", func(b *testing.B) func(int) {
			k := uniq(b)
			claim(b, k, time.Hour)
			return func(int) {
				if err := st.Resolve(ctx, k, payload, time.Hour); !errors.Is(err, core.ErrNotResolvable) {
					b.Fatal(err)
				}
			}
		}},
		{"renew", func(b *testing.B) func(int) {
			k := uniq(b)
			tok := claim(b, k, time.Minute)
			return func(int) {
				if err := st.Renew(ctx, k, tok, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"release", func(b *testing.B) func(int) {
			ks := keys(b)
			toks := make([]uint64, len(ks))
			for i, k := range ks {
				toks[i] = claim(b, k, time.Minute)
			}
			return func(i int) {
				if err := st.Release(ctx, ks[i], toks[i]); err != nil {
					b.Fatal(err)
				}
			}
		}},
	}
	for _, signed := range []bool{false, true} {
		name := ""
		sig = nil
		if signed {
			name, sig = "signed/", []byte(strings.Repeat("s", 40))
		}
		for _, tc := range cases {
			b.Run(name+tc.name, func(b *testing.B) {
				run := tc.setup(b)
				if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run(i)
				}
				b.StopTimer()
				calls, usec, err := evalshaStats(ctx, rdb)
				if err != nil {
					b.Fatal(err)
				}
				if calls != int64(b.N) {
					b.Fatalf("EVALSHA ran %d times for %d operations", calls, b.N)
				}
				b.ReportMetric(float64(usec)/float64(calls), "redis-µs/call")
			})
		}
	}
}

// evalshaStats reads the calls and total µs of EVALSHA from INFO
// commandstats.
func evalshaStats(ctx context.Context, rdb *redis.Client) (calls, usec int64, err error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(line, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec":
				usec, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		return calls, usec, nil
	}
	return 0, 0, errors.New("no cmdstat_evalsha in INFO commandstats")
}
