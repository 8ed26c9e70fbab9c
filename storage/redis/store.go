package idemredis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
)

var (
	_ core.Store        = (*Store)(nil)
	_ core.BatchRenewer = (*Store)(nil)
	_ core.Cooldowns    = (*Store)(nil)
)

// FormatVersion is stored in every record (field v). A record written
// with a version this code does not know is never replayed or
// overwritten: the request fails closed until the record expires. Tools
// that read records directly (cmd/idemctl) compare against it.
const FormatVersion = "1"

// Store is the Redis store. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	renew  redis.UniversalClient // rdb unless WithRenewClient
	prefix string
	notify notifier // Watch's subscription (notify.go)
}

// New returns a Store on rdb (standalone, Sentinel or Cluster client).
//
// The client should have ContextTimeoutEnabled set (see the package
// documentation): without it go-redis ignores the deadlines the Engine
// puts on every store call. New logs a warning (once per process, through
// log/slog's default logger) when it finds a *redis.Client,
// *redis.ClusterClient or *redis.Ring without it; it never changes the
// client's options.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	c := config{prefix: DefaultPrefix}
	for _, o := range opts {
		o(&c)
	}
	s := &Store{rdb: rdb, renew: rdb, prefix: c.prefix}
	if c.renew != nil {
		s.renew = c.renew
	}
	warnDeadlines(rdb, "client")
	if c.renew != nil {
		warnDeadlines(c.renew, "renewal client")
	}
	return s
}

// tagEscaper keeps the scoped key from closing (or opening) the hash tag
// early: Redis Cluster hashes only what is between the first '{' and the
// next '}'.
var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// RecordKey returns the Redis key of a scoped key (see core.StoreKey):
// prefix + "{" + escaped key + "}". Everything about one key lives in
// that one slot.
func (s *Store) RecordKey(storeKey string) string {
	return s.prefix + "{" + tagEscaper.Replace(storeKey) + "}"
}

func unavailable(err error) error {
	return fmt.Errorf("%w: redis: %w", core.ErrStoreUnavailable, err)
}

// Begin implements core.Store in one round trip. A Begin resent with the
// attempt's nonce (go-redis resends a command whose reply timed out) gets
// its own claim back. An attempt without a nonce gets a random one, so
// that even its resends are recognised. a.Sig is stored with the claim
// (field g) and answered as Record.Sig for claims and stranded records.
func (s *Store) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	nonce := a.Nonce
	if nonce == 0 {
		nonce = rand.Uint64() | 1
	}
	v, err := beginScript.Run(ctx, s.rdb, []string{s.RecordKey(key)},
		a.Fingerprint[:], a.Lease.Milliseconds(), a.TTL.Milliseconds(), FormatVersion,
		strconv.FormatUint(nonce, 10), a.Sig).Slice()
	if err != nil {
		return core.BeginResult{}, unavailable(notARecord(err))
	}
	return parseBegin(v, a.Fingerprint)
}

// parseBegin reads beginScript's answer. fp is the attempt's fingerprint,
// which a record answered with any outcome but Mismatch has too.
func parseBegin(v []any, fp core.Fingerprint) (core.BeginResult, error) {
	bad := func() (core.BeginResult, error) {
		return core.BeginResult{}, unavailable(fmt.Errorf("unexpected begin reply %q", v))
	}
	if len(v) < 2 {
		return bad()
	}
	outcome, _ := v[0].(int64)
	switch outcome {
	case 1:
		tok, err := strconv.ParseUint(asString(v[1]), 10, 64)
		if err != nil || len(v) < 3 {
			return bad()
		}
		took, _ := v[2].(int64)
		return core.BeginResult{Outcome: core.OutcomeOriginal, Token: tok, TookOver: took == 1}, nil
	case 2:
		if len(v) < 6 {
			return bad()
		}
		st, ok := parseState(v[1])
		if !ok || !st.Final() {
			return bad()
		}
		rec := core.Record{State: st, Fingerprint: fp, Token: token(v[4]), Payload: []byte(asString(v[3])), ExpiresAt: expiresAt(v[2])}
		rec.Sig, rec.CommitSig = sigAt(v, 6), sigAt(v, 7)
		res := core.BeginResult{Outcome: finalOutcome[st], Record: rec}
		res.Stranded = v[5] == int64(1)
		return res, nil
	case 3:
		if len(v) < 9 {
			return bad()
		}
		st, ok := parseState(v[1])
		if !ok {
			return bad()
		}
		rec := core.Record{State: st, LeaseUntil: leaseEnd(v[3]), ExpiresAt: expiresAt(v[4]), Token: token(v[7])}
		rec.Committed = st == core.StateInFlight && asString(v[6]) == "1"
		if st.Final() {
			rec.Payload = []byte(asString(v[8]))
		}
		rec.Sig, rec.CommitSig = sigAt(v, 9), sigAt(v, 10)
		copy(rec.Fingerprint[:], asString(v[2]))
		return core.BeginResult{Outcome: core.OutcomeMismatch, Record: rec, Stranded: v[5] == int64(1)}, nil
	case 4:
		if len(v) < 5 {
			return bad()
		}
		rec := core.Record{State: core.StateInFlight, Fingerprint: fp, Token: token(v[3]), Committed: asString(v[4]) == "1",
			LeaseUntil: leaseEnd(v[1]), ExpiresAt: expiresAt(v[2]), Sig: sigAt(v, 5), CommitSig: sigAt(v, 6)}
		return core.BeginResult{Outcome: core.OutcomeConflict, Record: rec}, nil
	case -1:
		if len(v) < 3 {
			return bad()
		}
		err := unknownFormat(v[1], v[2])
		if len(v) > 3 {
			err = fmt.Errorf("%w: malformed %s", err, asString(v[3]))
		}
		return core.BeginResult{}, fmt.Errorf("%w: %w", core.ErrStoreUnavailable, err)
	}
	return bad()
}

// sigAt reads the signature at v[i] of a Begin reply: nil when the
// reply has none there (empty, or a shorter reply).
func sigAt(v []any, i int) []byte {
	if i >= len(v) {
		return nil
	}
	if g := asString(v[i]); g != "" {
		return []byte(g)
	}
	return nil
}

// notARecord marks Redis's WRONGTYPE error (the record's key holds
// something other than a hash) as ErrCorruptRecord: something is stored
// under the key, which must not be taken for an outage (that a failing-open
// Engine would let through, running the handler) nor for absence.
func notARecord(err error) error {
	var re redis.Error
	if errors.As(err, &re) && strings.Contains(re.Error(), "WRONGTYPE") {
		return fmt.Errorf("%w: %w: the key holds no hash", err, core.ErrCorruptRecord)
	}
	return err
}

// finalOutcome is Begin's answer for a final record of the attempt's
// fingerprint.
var finalOutcome = map[core.State]core.Outcome{
	core.StateCompleted: core.OutcomeRepeated,
	core.StateTombstone: core.OutcomeUnavailable,
	core.StateUncertain: core.OutcomeUncertain,
}

// parseState reads a record's state field (s).
func parseState(v any) (core.State, bool) {
	switch asString(v) {
	case "1":
		return core.StateInFlight, true
	case "2":
		return core.StateCompleted, true
	case "3":
		return core.StateTombstone, true
	case "4":
		return core.StateUncertain, true
	}
	return 0, false
}

// stateField is the state field (s) of each state a record can be in.
var stateField = [...]string{
	core.StateInFlight:  "1",
	core.StateCompleted: "2",
	core.StateTombstone: "3",
	core.StateUncertain: "4",
}

// unknownFormat is the error for a record whose format version or state
// this code does not know.
func unknownFormat(version, state any) error {
	return fmt.Errorf("%w: record format version %q, state %q", core.ErrCorruptRecord, asString(version), asString(state))
}

func token(v any) uint64 {
	t, _ := strconv.ParseUint(asString(v), 10, 64)
	return t
}

// leaseEnd reads a lease end in ms since the epoch (0: none).
func leaseEnd(v any) time.Time {
	if ms, _ := strconv.ParseInt(asString(v), 10, 64); ms > 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// expiresAt turns a PTTL answer into a time.
func expiresAt(v any) time.Time {
	if pttl, _ := v.(int64); pttl > 0 {
		return time.Now().Add(time.Duration(pttl) * time.Millisecond)
	}
	return time.Time{}
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// fenced runs a script that acts on the claim held with token: a 0 answer
// is core.ErrLeaseLost, any other success.
func (s *Store) fenced(ctx context.Context, rdb redis.Scripter, script *redis.Script, key string, args ...any) error {
	n, err := script.Run(ctx, rdb, []string{s.RecordKey(key)}, args...).Int64()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return core.ErrLeaseLost
	}
	return nil
}

func renewArgs(token uint64, lease time.Duration) []any {
	return []any{strconv.FormatUint(token, 10), lease.Milliseconds(), (2 * lease).Milliseconds()}
}

// Renew implements core.Store, on the renewal client (WithRenewClient).
func (s *Store) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	return s.fenced(ctx, s.renew, renewScript, key, renewArgs(token, lease)...)
}

// RenewBatch implements core.BatchRenewer: every claim of rs is renewed in
// one pipeline of EVALSHA calls, on the renewal client (WithRenewClient).
// A ClusterClient sends one pipeline per master in parallel. Should Redis
// have lost the script (SCRIPT FLUSH, a failover to a replica that never
// ran it), the claims that got NOSCRIPT are sent again, with EVAL, in a
// second pipeline.
func (s *Store) RenewBatch(ctx context.Context, lease time.Duration, rs []core.Renewal) {
	if len(rs) == 0 {
		return
	}
	cmds := make([]*redis.Cmd, len(rs))
	send := func(retry []int, eval bool) {
		_, _ = s.renew.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range retry {
				keys, args := []string{s.RecordKey(rs[i].Key)}, renewArgs(rs[i].Token, lease)
				if eval {
					cmds[i] = renewScript.Eval(ctx, p, keys, args...)
				} else {
					cmds[i] = renewScript.EvalSha(ctx, p, keys, args...)
				}
			}
			return nil
		})
	}
	all := make([]int, len(rs))
	for i := range all {
		all[i] = i
	}
	send(all, false)
	var noScript []int
	for i, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			noScript = append(noScript, i)
		}
	}
	if len(noScript) > 0 {
		send(noScript, true)
	}
	for i, c := range cmds {
		n, err := c.Int64()
		switch {
		case err != nil:
			rs[i].Err = unavailable(err)
		case n == 0:
			rs[i].Err = core.ErrLeaseLost
		default:
			rs[i].Err = nil
		}
	}
}

// Commit implements core.Store in one round trip. Committing a claim
// already committed with token (a resent Commit) succeeds. sig is stored
// with the claim (field h) and answered as Record.CommitSig for a
// committed claim and a stranded record.
func (s *Store) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	return s.fenced(ctx, s.rdb, commitScript, key, strconv.FormatUint(token, 10), sig)
}

// Complete implements core.Store in one round trip. Completing a record
// already final with token (a resent Complete) succeeds and leaves it as
// it is, except that a completed record or a tombstone replaces an
// uncertain one.
func (s *Store) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if !state.Final() {
		return fmt.Errorf("idemredis: Complete with state %v, want completed, tombstone or uncertain", state)
	}
	return s.fenced(ctx, s.rdb, completeScript, key, strconv.FormatUint(token, 10), payload, ttl.Milliseconds(), stateField[state], s.endedChannel())
}

// Release implements core.Store. Releasing an absent record (a resent
// Release, or a claim that expired) succeeds.
func (s *Store) Release(ctx context.Context, key string, token uint64) error {
	return s.fenced(ctx, s.rdb, releaseScript, key, strconv.FormatUint(token, 10), s.endedChannel())
}

// Resolve implements core.Store in one round trip. A committed claim's
// lease is judged by the Redis server's clock. A record Resolve completes
// keeps its fingerprint but not its token: the claim's owner, should it
// still run, is fenced off (its Complete returns core.ErrLeaseLost).
//
// A resent Resolve (go-redis resends after a read timeout) finds the
// record resolved already and returns ErrNotFound (deleted) or
// ErrNotResolvable (completed): callers that retry should read the
// record before reporting failure.
func (s *Store) Resolve(ctx context.Context, key string, payload []byte, ttl time.Duration) error {
	args := []any{FormatVersion}
	if payload != nil {
		if ttl < time.Millisecond {
			return fmt.Errorf("idemredis: Resolve with ttl %v, want at least 1ms", ttl)
		}
		args = append(args, payload, ttl.Milliseconds())
	}
	v, err := resolveScript.Run(ctx, s.rdb, []string{s.RecordKey(key)}, args...).Result()
	if err != nil {
		return unavailable(err)
	}
	switch v := v.(type) {
	case int64:
		switch v {
		case 1:
			return nil
		case 0:
			return core.ErrNotFound
		case -1:
			return core.ErrNotResolvable
		}
	case []any:
		if len(v) == 3 && v[0] == int64(-2) {
			return fmt.Errorf("%w: %w", core.ErrNotResolvable, unknownFormat(v[1], v[2]))
		}
	}
	return unavailable(fmt.Errorf("unexpected resolve reply %q", v))
}

// Get implements core.Store (one pipelined round trip).
func (s *Store) Get(ctx context.Context, key string) (core.Record, error) {
	rk := s.RecordKey(key)
	var all *redis.MapStringStringCmd
	var pttl *redis.DurationCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, rk)
		pttl = p.PTTL(ctx, rk)
		return nil
	})
	if err != nil {
		return core.Record{}, unavailable(notARecord(err))
	}
	m := all.Val()
	if m["v"] == "" && m["s"] == "" {
		return core.Record{}, core.ErrNotFound // absent, or a hash that is no record
	}
	st, ok := parseState(m["s"])
	if m["v"] != FormatVersion || !ok {
		return core.Record{}, unknownFormat(m["v"], m["s"])
	}
	rec := core.Record{State: st}
	if st.Final() {
		rec.Payload = []byte(m["p"])
	} else {
		rec.Committed = m["c"] == "1"
	}
	// The claim's signature, for a claim and for the uncertain record
	// Begin made of it (c "2"): on any other final record it is a stale
	// leftover (see scripts.go).
	if g := m["g"]; g != "" && (st == core.StateInFlight || st == core.StateUncertain && m["c"] == "2") {
		rec.Sig = []byte(g)
	}
	// The commitment's signature likewise, for a committed claim and a
	// stranded record.
	if h := m["h"]; h != "" && (st == core.StateInFlight && m["c"] == "1" || st == core.StateUncertain && m["c"] == "2") {
		rec.CommitSig = []byte(h)
	}
	copy(rec.Fingerprint[:], m["f"])
	rec.Token, _ = strconv.ParseUint(m["t"], 10, 64)
	if ms, _ := strconv.ParseInt(m["l"], 10, 64); ms > 0 {
		rec.LeaseUntil = time.UnixMilli(ms)
	}
	if d := pttl.Val(); d > 0 {
		rec.ExpiresAt = time.Now().Add(d)
	}
	return rec, nil
}

// Delete implements core.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.RecordKey(key)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// AcquireCooldown implements core.Cooldowns with SET NX PX, so that every
// instance on this Redis shares one alert cooldown per name.
func (s *Store) AcquireCooldown(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.prefix+"cooldown:"+name, "1", ttl).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return ok, nil
}

// Ping checks that Redis answers, e.g. for a readiness probe.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// LoadScripts loads the store's Lua scripts into Redis (on every master of
// a cluster), so that the first requests do not pay for the EVALSHA miss.
// Calling it is optional: a missing script is loaded on first use.
// With WithRenewClient, the renewal script is loaded through that client
// too.
func (s *Store) LoadScripts(ctx context.Context) error {
	for _, sc := range []*redis.Script{beginScript, renewScript, commitScript, completeScript, releaseScript, resolveScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return unavailable(err)
		}
	}
	if s.renew != s.rdb {
		if err := renewScript.Load(ctx, s.renew).Err(); err != nil {
			return unavailable(err)
		}
	}
	return nil
}
