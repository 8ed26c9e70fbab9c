package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
)

// bodyPreview is how much of a stored body inspect shows without -full.
const bodyPreview = 2 << 10

// inspection is what inspect reports (and its -json form).
type inspection struct {
	Found bool   `json:"found"`
	Scope string `json:"scope"`
	Key   string `json:"key"`
	// The record's Redis key, or its PostgreSQL table and row key.
	recordRef

	Version      string `json:"version,omitempty"`
	KnownVersion bool   `json:"known_version"`
	// FormatError is why the PostgreSQL store refuses the record (an
	// unknown format version or state, core.ErrCorruptRecord): it does not
	// show such a record's fields, only that it is there.
	FormatError string `json:"format_error,omitempty"`
	// State is in_flight, completed, tombstone, uncertain, or unknown
	// (unknown format version or state).
	State string `json:"state,omitempty"`
	// Committed is true for an in-flight claim whose handler declared
	// irreversible effects: it is never taken over.
	Committed bool `json:"committed,omitempty"`
	// Stranded is true for a committed claim whose lease has expired: its
	// owner died after declaring effects. The next request with the key
	// turns it into an uncertain record; it can be resolved now.
	Stranded    bool       `json:"stranded,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Token       uint64     `json:"token,omitempty"`
	LeaseEnd    *time.Time `json:"lease_end,omitempty"`
	// LeaseLeftMS is the time left on an in-flight lease, by the Redis
	// server's clock (PostgreSQL: by this machine's clock against the
	// lease end the database set by its own); negative once it expired
	// (the owner is presumed dead and the next request with the key takes
	// over, or, when the claim is committed, makes it uncertain).
	LeaseLeftMS *int64 `json:"lease_left_ms,omitempty"`
	// TTLMS is the time until the store forgets the record; -1 without
	// expiry (Redis only).
	TTLMS        int64 `json:"ttl_ms"`
	PayloadBytes int   `json:"payload_bytes"`
	// Reason is the payload of a tombstone or an uncertain record: why it
	// was written, for operators.
	Reason      *string   `json:"reason,omitempty"`
	Response    *response `json:"response,omitempty"`
	DecodeError string    `json:"decode_error,omitempty"`
	// Sealed is true for a payload signed (or encrypted) under a record
	// key ring (core.WithRecordKeys): SealKeyID names the key, and
	// Encrypted says whether it is encrypted. Its response or reason is
	// only shown once verified with -signing-key.
	Sealed    bool   `json:"sealed,omitempty"`
	SealKeyID string `json:"seal_key_id,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// Verified is true when -signing-key was given and the record
	// verifies, as the servers check it. DoesNotVerify is why it does
	// not: the servers refuse it (503), and nothing of it is shown as
	// genuine.
	Verified      bool   `json:"verified,omitempty"`
	DoesNotVerify string `json:"does_not_verify,omitempty"`
	// Resolvable is true for a record `idemctl resolve` can settle: a
	// tombstone, an uncertain record or a stranded claim.
	Resolvable bool `json:"resolvable"`
}

// response is a decoded stored response.
type response struct {
	Status    int                 `json:"status"`
	Headers   map[string][]string `json:"headers"`
	BodyBytes int                 `json:"body_bytes"`
	// Body is the body as text, or BodyBase64 when it is not UTF-8 text.
	Body       string `json:"body,omitempty"`
	BodyBase64 string `json:"body_base64,omitempty"`
	Truncated  bool   `json:"body_truncated"`

	raw []byte // shown body, for the text output
}

func runInspect(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) int {
	var scope, key string
	var asJSON, full bool
	ok, code := subcommand("inspect", "-scope S -key K [-full] [-json] [-signing-key RING [-encrypt]]", g, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&scope, "scope", "", "`scope` of the key, as core.ScopeString builds it, e.g. 'user_route:alice|POST /payments' (required)")
		fs.StringVar(&key, "key", "", "the idempotency `key` (required)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.BoolVar(&full, "full", false, fmt.Sprintf("show the whole stored body (default: the first %d bytes)", bodyPreview))
	})
	if !ok {
		return code
	}
	if scope == "" || key == "" {
		fmt.Fprintln(stderr, "idemctl inspect: -scope and -key are required")
		return exitUsage
	}
	ring, err := g.ring()
	if err != nil {
		fmt.Fprintf(stderr, "idemctl inspect: %v\n", err)
		return exitUsage
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	c, err := g.connect()
	if err != nil {
		return fail(stderr, "inspect", err)
	}
	defer c.Close()
	var eng *core.Engine
	if ring != nil {
		if eng, err = ring.engine(c, core.DefaultTTL); err != nil {
			return fail(stderr, "inspect", err)
		}
		defer closeEngine(eng)
	}

	in, err := inspect(ctx, c, eng, scope, key, full)
	if err != nil {
		return fail(stderr, "inspect", g.storeErr(ctx, err))
	}
	if asJSON {
		if err := writeJSON(stdout, in); err != nil {
			return fail(stderr, "inspect", err)
		}
	} else {
		printInspection(stdout, in)
	}
	switch {
	case !in.Found:
		return exitNotFound
	case in.DoesNotVerify != "":
		return exitUnverified
	}
	return exitOK
}

// inspect reads the record of key in scope (on Redis straight from its
// hash, so that it can show records the store itself would refuse: an
// unknown format version). With eng (an Engine holding the record key
// ring), it verifies the record as the servers do, and shows the opened
// response or reason of a sealed one.
func inspect(ctx context.Context, c backend, eng *core.Engine, scope, key string, full bool) (*inspection, error) {
	for attempt := 0; ; attempt++ {
		in, err := c.inspectRaw(ctx, scope, key, full)
		if err != nil || eng == nil || !in.Found || !in.KnownVersion || in.State == "unknown" {
			return in, err
		}
		again, err := verify(ctx, eng, in, full)
		if err != nil || !again {
			return in, err
		}
		// The record changed between the two reads: read it again.
		if attempt == 2 {
			return nil, errors.New("the record keeps changing between reads; try again")
		}
	}
}

// verify checks in (read by inspectRaw) with eng: it verifies the record
// and opens a sealed one, as the servers do before replaying it. It
// returns true when the record eng read is not the one in describes.
func verify(ctx context.Context, eng *core.Engine, in *inspection, full bool) (changed bool, err error) {
	got, err := eng.Inspect(ctx, in.Scope, in.Key)
	switch {
	case errors.Is(err, core.ErrNotFound):
		return true, nil
	case err != nil && !isRejected(err) && got.State == 0:
		return false, err
	}
	if got.State.String() != in.State || got.Token != in.Token || got.Fingerprint.String() != in.Fingerprint {
		return true, nil
	}
	if isRejected(err) {
		in.DoesNotVerify = rejection(err)
		in.Reason, in.Response, in.DecodeError = nil, nil, ""
		return false, nil
	}
	in.Verified = true
	in.Reason, in.Response, in.DecodeError = nil, nil, ""
	switch {
	case got.State == core.StateTombstone || got.State == core.StateUncertain:
		if len(got.Payload) > 0 {
			in.Reason = &got.Reason
		}
	case got.State == core.StateCompleted && got.Response != nil:
		in.Response = newResponse(got.Response, full)
	case got.State == core.StateCompleted && err != nil:
		in.DecodeError = err.Error() + " (was the engine configured with another serializer?)"
	}
	return false, nil
}

// inspectRaw is inspect without verification.
func (c *conn) inspectRaw(ctx context.Context, scope, key string, full bool) (*inspection, error) {
	in := &inspection{Scope: scope, Key: key, recordRef: c.ref(scope, key)}
	var all *redis.MapStringStringCmd
	var pttl *redis.DurationCmd
	if _, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, in.RedisKey)
		pttl = p.PTTL(ctx, in.RedisKey)
		return nil
	}); err != nil {
		return nil, err
	}
	m := all.Val()
	if len(m) == 0 {
		return in, nil
	}
	in.Found = true
	in.TTLMS = -1
	if d := pttl.Val(); d > 0 {
		in.TTLMS = d.Milliseconds()
	}
	in.Version = m["v"]
	in.KnownVersion = in.Version == knownFormatVersion
	state := stateName(m["v"], m["s"])
	in.State = state.String()
	if f, ok := m["f"]; ok {
		in.Fingerprint = hex.EncodeToString([]byte(f))
	}
	in.Token, _ = strconv.ParseUint(m["t"], 10, 64)
	if ms, err := strconv.ParseInt(m["l"], 10, 64); err == nil && ms > 0 {
		end := time.UnixMilli(ms)
		left := end.Sub(serverTime(ctx, c.rdb)).Milliseconds()
		in.LeaseEnd, in.LeaseLeftMS = &end, &left
	}
	if state == core.StateInFlight && m["c"] == "1" {
		in.Committed = true
		in.Stranded = in.LeaseLeftMS != nil && *in.LeaseLeftMS <= 0
	}
	in.Resolvable = state == core.StateTombstone || state == core.StateUncertain || in.Stranded
	payload, hasPayload := m["p"]
	describePayload(in, state, []byte(payload), hasPayload, full)
	return in, nil
}

func newResponse(r *core.Response, full bool) *response {
	out := &response{Status: r.Status, Headers: map[string][]string(r.Header), BodyBytes: len(r.Body)}
	if out.Headers == nil {
		out.Headers = map[string][]string{}
	}
	body := r.Body
	if !full && len(body) > bodyPreview {
		body, out.Truncated = body[:bodyPreview], true
		// Do not cut a UTF-8 character in half.
		for i := 0; i < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); i++ {
			body = body[:len(body)-1]
		}
	}
	out.raw = body
	if isText(body) {
		out.Body = string(body)
	} else {
		out.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return out
}

// isText reports whether b prints safely on a terminal: UTF-8 without
// control characters other than tab and line breaks.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

func printInspection(w io.Writer, in *inspection) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	if !in.Found {
		fmt.Fprintln(w, "no record")
		in.printRef(tw)
		fmt.Fprintf(tw, "scope\t%s\n", in.Scope)
		fmt.Fprintf(tw, "key\t%s\n", in.Key)
		return
	}
	in.printRef(tw)
	fmt.Fprintf(tw, "scope\t%s\n", in.Scope)
	fmt.Fprintf(tw, "key\t%s\n", in.Key)
	switch {
	case in.Stranded:
		fmt.Fprintf(tw, "state\t%s, committed, stranded: its owner declared effects, then its lease ended; the next request makes it uncertain\n", in.State)
	case in.Committed:
		fmt.Fprintf(tw, "state\t%s, committed: the handler declared effects; it is never taken over\n", in.State)
	case in.State == core.StateTombstone.String():
		fmt.Fprintf(tw, "state\t%s: the handler ran to completion but its response was not stored; retries get result-unavailable\n", in.State)
	case in.State == core.StateUncertain.String():
		fmt.Fprintf(tw, "state\t%s: the handler may have had effects, then failed; retries get operation-uncertain\n", in.State)
	default:
		fmt.Fprintf(tw, "state\t%s\n", in.State)
	}
	switch {
	case in.FormatError != "":
		fmt.Fprintf(tw, "format\tunknown to this idemctl (%s; written by another idemkit version?): the store neither replays nor overwrites it until it expires\n", in.FormatError)
		return
	case in.KnownVersion:
		fmt.Fprintf(tw, "format\tv%s\n", in.Version)
	default:
		fmt.Fprintf(tw, "format\tv%q: unknown to this idemctl (written by another idemkit version?); the store neither replays nor overwrites it until it expires\n", in.Version)
	}
	fmt.Fprintf(tw, "fingerprint\t%s\n", orDash(in.Fingerprint))
	if in.Token == 0 && in.State == core.StateCompleted.String() {
		fmt.Fprintf(tw, "token\t0 (resolved by an operator)\n")
	} else {
		fmt.Fprintf(tw, "token\t%d\n", in.Token)
	}
	switch {
	case in.LeaseEnd == nil:
		fmt.Fprintf(tw, "lease end\t-\n")
	case *in.LeaseLeftMS >= 0:
		fmt.Fprintf(tw, "lease end\t%s (in %s)\n", in.LeaseEnd.UTC().Format(time.RFC3339Nano), ms(*in.LeaseLeftMS))
	case in.Committed:
		fmt.Fprintf(tw, "lease end\t%s (expired %s ago: the owner is presumed dead)\n", in.LeaseEnd.UTC().Format(time.RFC3339Nano), ms(-*in.LeaseLeftMS))
	default:
		fmt.Fprintf(tw, "lease end\t%s (expired %s ago: the owner is presumed dead; the next request takes over)\n", in.LeaseEnd.UTC().Format(time.RFC3339Nano), ms(-*in.LeaseLeftMS))
	}
	if in.TTLMS < 0 {
		fmt.Fprintf(tw, "ttl\tnone (the key never expires: not written by idemkit?)\n")
	} else {
		fmt.Fprintf(tw, "ttl\t%s\n", ms(in.TTLMS))
	}
	fmt.Fprintf(tw, "payload\t%d bytes\n", in.PayloadBytes)
	if in.Sealed {
		how := "signed by key " + in.SealKeyID
		if in.Encrypted {
			how = "encrypted with key " + in.SealKeyID
		}
		if in.Verified || in.DoesNotVerify != "" {
			fmt.Fprintf(tw, "seal\t%s\n", how)
		} else {
			fmt.Fprintf(tw, "seal\t%s; not verified: -signing-key (or $%s) verifies and decodes it\n", how, envSigningKey)
		}
	}
	if in.Verified {
		fmt.Fprintf(tw, "verify\tverifies under the key ring\n")
	}
	switch {
	case in.DoesNotVerify != "" && in.State == core.StateInFlight.String():
		// No advice to flush: a genuine claim whose signature the store
		// lost would then let a duplicate run.
		fmt.Fprintf(tw, "verify\tdoes not verify: %s: the servers refuse this record (503)\n", in.DoesNotVerify)
	case in.DoesNotVerify != "":
		fmt.Fprintf(tw, "verify\tdoes not verify: %s: the servers refuse this record (503) and nothing of it is shown; 'idemctl flush' deletes it\n", in.DoesNotVerify)
	}
	if in.Reason != nil {
		reason := *in.Reason
		if !isText([]byte(reason)) {
			reason = strconv.Quote(reason)
		}
		fmt.Fprintf(tw, "reason\t%s\n", orDash(reason))
	}
	if in.DecodeError != "" {
		fmt.Fprintf(tw, "decode error\t%s\n", in.DecodeError)
	}
	if in.Resolvable {
		fmt.Fprintf(tw, "resolve\tidemctl resolve -scope %s -key %s -release (or -status N -body ... to answer retries)\n",
			shellQuote(in.Scope), shellQuote(in.Key))
	}
	r := in.Response
	if r == nil {
		return
	}
	fmt.Fprintf(tw, "status\t%d %s\n", r.Status, http.StatusText(r.Status))
	names := make([]string, 0, len(r.Headers))
	for n := range r.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintf(tw, "headers\t-\n")
	}
	for i, n := range names {
		label := ""
		if i == 0 {
			label = "headers"
		}
		for _, v := range r.Headers[n] {
			fmt.Fprintf(tw, "%s\t%s: %s\n", label, n, v)
			label = ""
		}
	}
	fmt.Fprintf(tw, "body\t%d bytes", r.BodyBytes)
	if r.Truncated {
		fmt.Fprintf(tw, " (first %d shown; -full shows all)", len(r.raw))
	}
	if !isText(r.raw) {
		fmt.Fprintf(tw, " (binary)")
	}
	fmt.Fprintf(tw, "\n")
	tw.Flush()
	if len(r.raw) == 0 {
		return
	}
	if isText(r.raw) {
		s := string(r.raw)
		fmt.Fprint(w, "\n"+s)
		if !strings.HasSuffix(s, "\n") {
			fmt.Fprintln(w)
		}
		if r.Truncated {
			fmt.Fprintln(w, "…")
		}
		return
	}
	fmt.Fprint(w, "\n"+hex.Dump(r.raw))
}

// stateName reads a record's version and state fields; 0 (unknown) for
// a format this tool does not know.
func stateName(version, state string) core.State {
	if version != knownFormatVersion {
		return 0
	}
	switch state {
	case "1":
		return core.StateInFlight
	case "2":
		return core.StateCompleted
	case "3":
		return core.StateTombstone
	case "4":
		return core.StateUncertain
	}
	return 0
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ms formats milliseconds as a duration, rounded for people.
func ms(n int64) string {
	d := time.Duration(n) * time.Millisecond
	if d >= time.Minute {
		d = d.Round(time.Second)
	}
	return d.String()
}
