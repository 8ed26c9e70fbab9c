package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/idemkit/idempotency/core"
)

// resolveResult is what resolve reports (and its -json form).
type resolveResult struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
	recordRef
	// Was is what the record was: tombstone, uncertain, or stranded (a
	// committed claim whose lease had ended).
	Was string `json:"was"`
	// Action is released (the record is deleted: the next request runs
	// afresh) or completed (retries replay the response).
	Action string `json:"action"`
	// Status, BodyBytes and TTLMS describe the response of a completion.
	Status    int   `json:"status,omitempty"`
	BodyBytes int   `json:"body_bytes,omitempty"`
	TTLMS     int64 `json:"ttl_ms,omitempty"`
	// SignedBy is the id of the key that signed the response (with
	// -signing-key); Encrypted says it was encrypted too (-encrypt).
	SignedBy  string `json:"signed_by,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
}

// headerFlags collects repeated -header 'Name: value' flags.
type headerFlags struct{ h http.Header }

func (f *headerFlags) String() string { return "" }

func (f *headerFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || !validHeaderName(name) {
		return fmt.Errorf("want 'Name: value', got %q", s)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: the value has a line break or NUL", name)
	}
	name = http.CanonicalHeaderKey(name)
	if neverReplayed[name] {
		return fmt.Errorf("header %s is never stored nor replayed (hop-by-hop, Date, Content-Length, Set-Cookie and the idempotency headers are not)", name)
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(name, value)
	return nil
}

// neverReplayed are the headers the Engine never stores nor replays
// (core's notReplayed): a response given with one would not replay as
// given.
var neverReplayed = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Date": true, "Content-Length": true, "Set-Cookie": true,
	"Idempotency-Status": true, "Idempotent-Replayed": true,
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func runResolve(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) int {
	var scope, key, body string
	var release, asJSON bool
	var status int
	var headers headerFlags
	ttl := core.DefaultTTL
	ok, code := subcommand("resolve", "-scope S -key K (-release | -status N [-body STRING|@FILE] [-header 'Name: value']... [-ttl D] [-signing-key RING [-encrypt]]) [-json]", g, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&scope, "scope", "", "`scope` of the key, as core.ScopeString builds it (required)")
		fs.StringVar(&key, "key", "", "the idempotency `key` (required)")
		fs.BoolVar(&release, "release", false, "delete the record, so that the next request with its key runs afresh")
		fs.IntVar(&status, "status", 0, "complete the record with a response of this HTTP `status` (200-599), which retries replay")
		fs.StringVar(&body, "body", "", "the response's body: the `text` itself, or @FILE to read it from FILE")
		fs.Var(&headers, "header", "a response header, `'Name: value'` (repeat for more)")
		fs.DurationVar(&ttl, "ttl", ttl, "how long the completed record is kept (the `duration` retries replay it)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if !ok {
		return code
	}
	usageErr := func(msg string) int {
		fmt.Fprintln(stderr, "idemctl resolve: "+msg)
		return exitUsage
	}
	switch {
	case scope == "" || key == "":
		return usageErr("-scope and -key are required")
	case release && status != 0:
		return usageErr("-release and -status exclude each other")
	case !release && status == 0:
		return usageErr("one of -release or -status is required")
	case release && (body != "" || headers.h != nil):
		return usageErr("-body and -header go with -status, not -release")
	case !release && (status < 200 || status > 599):
		return usageErr(fmt.Sprintf("-status %d: want an HTTP status from 200 to 599", status))
	case !release && ttl < time.Millisecond:
		return usageErr(fmt.Sprintf("-ttl %v: want a positive duration", ttl))
	}
	var ring *keyRing
	if !release {
		var err error
		if ring, err = g.ring(); err != nil {
			return usageErr(err.Error())
		}
	}
	var resp *core.Response
	var payload []byte
	bodyBytes := 0
	if !release {
		b := []byte(body)
		if name, ok := strings.CutPrefix(body, "@"); ok {
			var err error
			if b, err = os.ReadFile(name); err != nil {
				return fail(stderr, "resolve", err)
			}
		}
		resp = &core.Response{Status: status, Header: headers.h, Body: b}
		// The Engine's encoding (its default serializer), so that replays
		// decode it as their own. With a ring, the Engine encodes and
		// seals it instead.
		payload, _ = core.BinarySerializer{}.Encode(nil, resp)
		bodyBytes = len(b)
	}

	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	// No resends: a resent Resolve whose first run succeeded would answer
	// "not found" or "not resolvable" (see core.Store.Resolve).
	c, err := g.connectOnce()
	if err != nil {
		return fail(stderr, "resolve", err)
	}
	defer c.Close()
	var eng *core.Engine
	if ring != nil {
		if eng, err = ring.engine(c, ttl); err != nil {
			return fail(stderr, "resolve", err)
		}
		defer closeEngine(eng)
	}

	res := &resolveResult{Scope: scope, Key: key, recordRef: c.ref(scope, key), Action: "released"}
	before, err := inspect(ctx, c, eng, scope, key, false)
	if err != nil {
		return fail(stderr, "resolve", g.storeErr(ctx, err))
	}
	res.Was = describeState(before)
	if !release {
		res.Action, res.Status, res.BodyBytes, res.TTLMS = "completed", status, bodyBytes, ttl.Milliseconds()
		switch {
		case before.DoesNotVerify != "" && before.Resolvable:
			// Signing a response for it would bind the response to a
			// fingerprint that a forger chose.
			fmt.Fprintf(stderr, "idemctl resolve: record %s does not verify: %s: the servers refuse it, and idemctl does not sign a response for it. 'idemctl inspect' shows it; -release or 'idemctl flush' deletes it.\n", res.name(), before.DoesNotVerify)
			return exitUnverified
		case ring == nil && before.Sealed && before.Resolvable:
			return usageErr(fmt.Sprintf("record %s is signed (key %s), so the servers sign their records and would refuse (503) an unsigned response: give their key ring with -signing-key (or $%s), and -encrypt if they encrypt", res.name(), before.SealKeyID, envSigningKey))
		}
		if ring != nil {
			res.SignedBy, res.Encrypted = ring.signer(), ring.encrypt
		}
	}
	if eng != nil && resp != nil {
		// The Engine seals the response, bound to the record's
		// fingerprint, so that retries of the original request verify it.
		err = eng.Resolve(ctx, scope, key, resp)
	} else {
		err = c.coreStore().Resolve(ctx, core.StoreKey(scope, key), payload, ttl)
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		fmt.Fprintf(stderr, "idemctl resolve: no record %s: nothing to resolve\n", res.name())
		return exitNotFound
	case errors.Is(err, core.ErrNotResolvable):
		now, ierr := inspect(ctx, c, nil, scope, key, false)
		if ierr != nil {
			now = before
		}
		if !now.Found {
			fmt.Fprintf(stderr, "idemctl resolve: no record %s: nothing to resolve\n", res.name())
			return exitNotFound
		}
		fmt.Fprintf(stderr, "idemctl resolve: record %s is %s: not resolvable. %s\n", res.name(), describeState(now), notResolvableHint(now))
		return exitNotResolvable
	case err != nil:
		return fail(stderr, "resolve", fmt.Errorf("%w (did it happen? 'idemctl inspect' shows the record)", g.storeErr(ctx, err)))
	}
	if asJSON {
		if err := writeJSON(stdout, res); err != nil {
			return fail(stderr, "resolve", err)
		}
		return exitOK
	}
	if release {
		fmt.Fprintf(stdout, "released %s record %s: the next request with its key runs afresh\n", res.Was, res.name())
	} else {
		seal := ""
		switch {
		case res.Encrypted:
			seal = ", encrypted with key " + res.SignedBy
		case res.SignedBy != "":
			seal = ", signed by key " + res.SignedBy
		}
		fmt.Fprintf(stdout, "completed %s record %s with %d %s (%d-byte body%s), kept %s: retries with the same payload replay it\n",
			res.Was, res.name(), status, http.StatusText(status), res.BodyBytes, seal, ttl)
	}
	return exitOK
}

// describeState names a record's state for resolve's messages.
func describeState(in *inspection) string {
	switch {
	case !in.Found:
		return "absent"
	case in.Stranded:
		return "stranded"
	case in.Committed:
		return "a live committed claim"
	case in.State == core.StateInFlight.String():
		return "a claim in flight"
	case in.State == core.StateCompleted.String():
		return "completed"
	case in.State == "unknown":
		return "of an unknown format"
	}
	return in.State
}

// notResolvableHint says what to do about a record resolve refused.
func notResolvableHint(in *inspection) string {
	switch {
	case !in.KnownVersion || in.State == "unknown":
		return "It was written by another idemkit version; 'idemctl flush' deletes it."
	case in.Committed:
		return "Its handler is still running (or its lease has not ended yet): wait for it to finish, or for the lease to end."
	case in.State == core.StateInFlight.String() && in.LeaseLeftMS != nil && *in.LeaseLeftMS <= 0:
		return "Its owner died before declaring effects: the next request with the key takes it over; 'idemctl flush' deletes it."
	case in.State == core.StateInFlight.String():
		return "Its handler is still running: wait for it to finish."
	case in.State == core.StateCompleted.String():
		return "Retries replay its response; 'idemctl flush' deletes it."
	}
	return "Only tombstones, uncertain records and stranded claims can be resolved."
}
