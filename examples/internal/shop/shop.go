package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
)

// Endpoint names one of the example API's operations.
type Endpoint int

// The endpoints. The counted ones come first so that they index the
// execution counters; Stats only reports them.
const (
	Payments Endpoint = iota
	Refunds
	Votes
	Webhooks
	Exports
	Stats

	counted = Stats // number of endpoints with an execution counter
)

var endpointNames = [...]string{"payments", "refunds", "votes", "webhooks", "exports", "stats"}

// String returns the endpoint's name as /stats reports it.
func (e Endpoint) String() string {
	if e < 0 || int(e) >= len(endpointNames) {
		return "endpoint(" + strconv.Itoa(int(e)) + ")"
	}
	return endpointNames[e]
}

// Limits of the simulated behaviour. They keep a public demo server from
// being told to sleep for an hour or to buffer a huge body.
const (
	MaxBodyBytes = 64 << 10
	MaxDelay     = 10 * time.Second
)

// Request is what a handler needs from an HTTP request. Adapters fill it
// from their framework's context.
type Request struct {
	// Query is the decoded query string (effects, delay, fail, panic).
	Query url.Values
	// Header is the request header, with canonical keys as net/http
	// builds them (adapters of other HTTP stacks must canonicalize);
	// webhooks read WebhookHeader from it.
	Header http.Header
	// Body is the request body as read by ReadBody.
	Body []byte
	// User is the value the user middleware stored under UserKey, "" for
	// an anonymous request. It is echoed in payments and refunds so the
	// demo can show that user scopes keep users apart.
	User string
}

// Response is what a handler answers. Adapters copy Header, then write
// Status and Body, or, when Stream is set, stream it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Stream, when not nil, replaces Body: the adapter writes its chunks
	// in order with its framework's streaming API, flushing after each
	// one, so a client sees every chunk as it is written. Only the
	// exports endpoint streams (text/event-stream, see Handle).
	Stream [][]byte
}

// Shop holds the execution counters. Its methods are safe for concurrent
// use: the concurrent-duplicates scenario hits one Shop from 20
// goroutines and must read exactly 1 execution afterwards.
type Shop struct {
	// executions counts every time a handler body starts, whatever it
	// answers: that is the number idempotency must keep at one per key.
	executions [counted]atomic.Int64
	// created numbers the resources created (pay_N, ref_N, vote_N,
	// exp_N), so ids stay dense even when failed executions are counted.
	created [counted]atomic.Int64
	// unclaimed: charge without an idempotency claim (SetUnclaimed).
	unclaimed bool
	// ledger, when set, records payments in the claim's transaction
	// (SetLedger).
	ledger Ledger
}

// New returns a Shop with zeroed counters.
func New() *Shop { return new(Shop) }

// SetUnclaimed makes payments and refunds charge without an idempotency
// claim instead of refusing with 503: the bare server of the end-to-end
// benchmark (-bare), which serves the same handlers without the
// idempotency middleware, so that its requests do the same work. Call it
// before serving; never in a real server.
func (s *Shop) SetUnclaimed() { s.unclaimed = true }

// Executions returns how many times the handler of e has run.
func (s *Shop) Executions(e Endpoint) int64 {
	if e < 0 || e >= counted {
		return 0
	}
	return s.executions[e].Load()
}

// Snapshot is the body of GET /stats.
type Snapshot struct {
	Executions Counts `json:"executions"`
	// Committed is what the Ledger holds, only with one (SetLedger): the
	// memory and Redis servers answer exactly SPEC §6's shape.
	Committed *Committed `json:"committed,omitempty"`
}

// Counts holds one execution counter per endpoint.
type Counts struct {
	Payments int64 `json:"payments"`
	Refunds  int64 `json:"refunds"`
	Votes    int64 `json:"votes"`
	Webhooks int64 `json:"webhooks"`
	Exports  int64 `json:"exports"`
}

// Snapshot returns the current counters.
func (s *Shop) Snapshot() Snapshot {
	return Snapshot{Executions: Counts{
		Payments: s.executions[Payments].Load(),
		Refunds:  s.executions[Refunds].Load(),
		Votes:    s.executions[Votes].Load(),
		Webhooks: s.executions[Webhooks].Load(),
		Exports:  s.executions[Exports].Load(),
	}}
}

// ErrBodyTooLarge is returned by ReadBody for bodies over MaxBodyBytes.
var ErrBodyTooLarge = errors.New("shop: request body too large")

// ReadBody reads a request body, at most MaxBodyBytes of it. Adapters of
// frameworks that expose the body as an io.Reader use it; a too large body
// should be answered with Error(http.StatusRequestEntityTooLarge, ...).
func ReadBody(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// Handle runs endpoint e on req. It panics when the query asks for it
// (panic=1): the framework's recovery middleware must answer, and the
// idempotency middleware must release the key on the way (or, after
// effects=1, keep it uncertain). The answer of Exports is a stream
// (Response.Stream), every other one a Body.
//
// ctx must be the context the idempotency middleware hands the handler
// (gin's c.Request.Context(), echo's c.Request().Context(), fiber's
// c.UserContext()): payments and refunds declare their effects through
// it (core.DeclareEffects), and refuse to charge with 503 without it.
func (s *Shop) Handle(ctx context.Context, e Endpoint, req *Request) *Response {
	if e == Stats {
		return s.stats(ctx)
	}
	if e < 0 || e > Stats {
		return Error(http.StatusNotFound, "unknown endpoint")
	}
	// Counted first: a run that fails or panics is still a run, which is
	// exactly what a duplicate must not cause.
	s.executions[e].Add(1)
	if len(req.Body) > MaxBodyBytes {
		return Error(http.StatusRequestEntityTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", MaxBodyBytes))
	}
	if e == Payments || e == Refunds {
		// Derived before anything can fail, as a handler derives the key
		// of the provider call it is about to make: whatever the switches
		// do, every answer shows the key this operation would use.
		if pk := providerKey(ctx); pk != "" {
			resp := s.handle(ctx, e, req)
			resp.Header.Set(ProviderKeyHeader, pk)
			return resp
		}
	}
	return s.handle(ctx, e, req)
}

func (s *Shop) handle(ctx context.Context, e Endpoint, req *Request) *Response {
	if e == Payments && s.ledger != nil {
		return s.pay(ctx, req) // the switches run after the row (SetLedger)
	}
	if resp := simulate(ctx, req.Query); resp != nil {
		return resp
	}
	switch e {
	case Payments:
		return s.createMoney(ctx, req, Payments, "pay_", "/payments/")
	case Refunds:
		return s.createMoney(ctx, req, Refunds, "ref_", "/refunds/")
	case Votes:
		id := "vote_" + strconv.FormatInt(s.created[Votes].Add(1), 10)
		return JSON(http.StatusCreated, voteOut{ID: id})
	case Exports:
		return s.export(req)
	default: // Webhooks
		return JSON(http.StatusOK, webhookOut{Received: req.Header.Get(WebhookHeader)})
	}
}

// simulate applies the query's test switches in order: effects, delay,
// fail, panic. It returns nil when the request should go on normally.
//
// effects=1 comes first so that it plays a handler that has already
// charged the card when it then stalls, fails or panics: the idempotency
// middleware must then keep the key uncertain (423 operation-uncertain)
// instead of releasing it for a second charge, which is what the same
// fail=500 or panic=1 without it gets (SPEC §3, steps 8-9).
func simulate(ctx context.Context, q url.Values) *Response {
	if v := q.Get("effects"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return Error(http.StatusBadRequest, "effects must be a boolean, e.g. effects=1")
		}
		if on {
			if resp := declareEffects(ctx, false); resp != nil {
				return resp
			}
		}
	}
	if v := q.Get("delay"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxDelay {
			return Error(http.StatusBadRequest, fmt.Sprintf("delay must be a duration between 0 and %v, e.g. 300ms", MaxDelay))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			// 5xx is never stored, so the key is released for a retry.
			return Error(http.StatusServiceUnavailable, "request cancelled during the delay")
		case <-t.C:
		}
	}
	if v := q.Get("fail"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil || code < 500 || code > 599 {
			return Error(http.StatusBadRequest, "fail must be a 5xx status, e.g. fail=500")
		}
		return Error(code, "simulated failure (fail="+v+")")
	}
	if v := q.Get("panic"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return Error(http.StatusBadRequest, "panic must be a boolean, e.g. panic=1")
		}
		if on {
			panic("shop: simulated panic (panic=" + v + ")")
		}
	}
	return nil
}

// moneyIn is the body of payments and refunds. Amount is a pointer so a
// missing amount is told apart from a zero one in the error message.
type moneyIn struct {
	Amount   *int64 `json:"amount"`
	Currency string `json:"currency"`
}

type moneyOut struct {
	ID       string `json:"id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	User     string `json:"user"`
}

type voteOut struct {
	ID string `json:"id"`
}

type webhookOut struct {
	Received string `json:"received"`
}

type errorOut struct {
	Error string `json:"error"`
}

// ProviderKeyHeader carries, on every answer of payments and refunds
// when the engine has a derived-key secret (core.WithDerivedKeySecret),
// the idempotency key the handler would send to its payment provider:
// core.DerivedKey(ctx, "psp"). It is the same on every run of one
// operation (same scope and key), on any instance sharing the secret, so
// a re-run after a released failure would be deduplicated by the
// provider. A real server keeps it to itself; the example shows it.
const ProviderKeyHeader = "X-Provider-Key"

// providerKey returns the operation's provider key, or "" when there is
// none: no secret (core.ErrNoDerivedKeySecret) or no claim, which
// declareEffects refuses anyway.
func providerKey(ctx context.Context) string {
	pk, err := core.DerivedKey(ctx, "psp")
	if err != nil {
		return ""
	}
	return pk
}

// declareEffects tells the idempotency middleware that the handler is
// about to move money, or answers the 503 that stops it from doing so.
// Going on without the mark would let a failure release the key and a
// retry charge twice; without a claim at all (ErrNoClaim: no middleware,
// or a fail-open bypass) nothing would stop a duplicate either, and these
// routes require a key, so that is a wiring error, not a choice to make
// per request. A 5xx is never stored: the key is released and the client
// retries, with nothing charged. unclaimed (the bare benchmark server)
// accepts ErrNoClaim.
func declareEffects(ctx context.Context, unclaimed bool) *Response {
	err := core.DeclareEffects(ctx)
	switch {
	case err == nil, unclaimed && errors.Is(err, core.ErrNoClaim):
		return nil
	case errors.Is(err, core.ErrNoClaim):
		return Error(http.StatusServiceUnavailable, "not charged: no idempotency claim protects this request")
	default:
		return Error(http.StatusServiceUnavailable, "not charged: the idempotency store could not record the charge; retry later")
	}
}

func (s *Shop) createMoney(ctx context.Context, req *Request, e Endpoint, prefix, location string) *Response {
	m, resp := parseMoney(req)
	if resp != nil {
		return resp
	}
	// As late as possible: everything above fails cleanly (a 400 is
	// stored, a crash before this line is retried fresh), everything
	// below is the charge, which must never happen twice.
	if resp := declareEffects(ctx, s.unclaimed); resp != nil {
		return resp
	}
	return created(prefix+strconv.FormatInt(s.created[e].Add(1), 10), location, m)
}

// money is a validated body of payments and refunds, with its user.
type money struct {
	Amount   int64
	Currency string
	User     string
}

// parseMoney validates the body of payments and refunds, or answers the
// 400 that says what is wrong with it.
func parseMoney(req *Request) (money, *Response) {
	var in moneyIn
	// sonic's syntax errors span several lines with a caret diagram, so
	// the client gets a fixed message instead of the decoder's.
	if err := sonic.ConfigStd.Unmarshal(req.Body, &in); err != nil {
		return money{}, Error(http.StatusBadRequest, `body must be a JSON object {"amount":int,"currency":string}`)
	}
	switch {
	case in.Amount == nil:
		return money{}, Error(http.StatusBadRequest, "amount is required")
	case *in.Amount <= 0:
		return money{}, Error(http.StatusBadRequest, "amount must be a positive integer (minor units)")
	case !isCurrency(in.Currency):
		return money{}, Error(http.StatusBadRequest, "currency must be a 3-letter upper-case code, e.g. EUR")
	}
	user := req.User
	if user == "" {
		user = "guest"
	}
	return money{Amount: *in.Amount, Currency: in.Currency, User: user}, nil
}

// created is the 201 of a payment or refund id, at location+id.
func created(id, location string, m money) *Response {
	resp := JSON(http.StatusCreated, moneyOut{ID: id, Amount: m.Amount, Currency: m.Currency, User: m.User})
	resp.Header.Set("Location", location+id)
	// A per-response cookie: the idempotency middleware never replays
	// Set-Cookie, so a replay visibly lacks it while keeping Location.
	resp.Header.Set("Set-Cookie", (&http.Cookie{
		Name: "receipt", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}).String())
	return resp
}

// ExportSteps is the number of progress events an export streams.
const ExportSteps = 3

// ExportContentType is the media type of an export's answer.
const ExportContentType = "text/event-stream"

type exportEvent struct {
	Export string `json:"export"`
	Step   int    `json:"step"`
	Of     int    `json:"of"`
}

// export answers POST /exports: any JSON body is accepted (it stands for
// the export's filters), and the answer is streamed as server-sent
// events, one "progress" event per step:
//
//	id: 1
//	event: progress
//	data: {"export":"exp_1","step":1,"of":3}
//
// A streamed answer cannot be stored, so the idempotency middleware
// cannot replay it; what a retry gets instead is the middleware's
// business (SPEC §3, step 9).
func (s *Shop) export(req *Request) *Response {
	if !json.Valid(req.Body) {
		return Error(http.StatusBadRequest, "body must be JSON, e.g. {}")
	}
	id := "exp_" + strconv.FormatInt(s.created[Exports].Add(1), 10)
	events := make([][]byte, ExportSteps)
	for i := range events {
		data, err := sonic.ConfigStd.Marshal(exportEvent{Export: id, Step: i + 1, Of: ExportSteps})
		if err != nil { // cannot happen: fixed types
			return Error(http.StatusInternalServerError, "export event could not be encoded")
		}
		events[i] = fmt.Appendf(nil, "id: %d\nevent: progress\ndata: %s\n\n", i+1, data)
	}
	return &Response{
		Status: http.StatusOK,
		Header: http.Header{
			"Content-Type":  {ExportContentType},
			"Cache-Control": {"no-cache"},
		},
		Stream: events,
	}
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

func (s *Shop) stats(ctx context.Context) *Response {
	snap := s.Snapshot()
	if s.ledger != nil {
		n, err := s.ledger.Payments(ctx)
		if err != nil {
			return Error(http.StatusServiceUnavailable, "the committed payments could not be counted")
		}
		snap.Committed = &Committed{Payments: n}
	}
	return JSON(http.StatusOK, snap)
}

// JSON returns a response with v encoded by sonic (in its encoding/json
// compatible configuration, which also escapes HTML and validates UTF-8
// in user-supplied strings such as X-User-ID).
func JSON(status int, v any) *Response {
	b, err := sonic.ConfigStd.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"response could not be encoded"}`)
	}
	return &Response{
		Status: status,
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body:   b,
	}
}

// Error returns a JSON error response {"error": msg}. 4xx answers are
// stored and replayed by the idempotency middleware like any other
// cacheable status; 5xx are not, so a retry runs again.
func Error(status int, msg string) *Response {
	return JSON(status, errorOut{Error: msg})
}
