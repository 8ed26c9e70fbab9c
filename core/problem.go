package core

import (
	"net/http"
	"strconv"

	"github.com/bytedance/sonic"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// RetryAfter, when positive, is sent as the Retry-After header in
	// seconds (409 in flight, 503 store unavailable).
	RetryAfter int `json:"-"`
	// Kind is the machine-readable reason, as in the type URI's last part.
	Kind ProblemKind `json:"-"`
}

// Error makes a Problem usable as an error, for error responders that
// hand refusals to a framework's error handler (errors.As finds it).
func (p *Problem) Error() string {
	if p.Detail == "" {
		return "idempotency: " + p.Title
	}
	return "idempotency: " + p.Title + ": " + p.Detail
}

// ProblemKind names why a request was refused.
type ProblemKind string

// The problems the Engine answers with.
const (
	ProblemMissingKey       ProblemKind = "missing-key"
	ProblemInvalidKey       ProblemKind = "invalid-key"
	ProblemBodyTooLarge     ProblemKind = "body-too-large"
	ProblemUnreadableBody   ProblemKind = "unreadable-body"
	ProblemPayloadMismatch  ProblemKind = "payload-mismatch"
	ProblemInFlight         ProblemKind = "request-in-flight"
	ProblemStoreUnavailable ProblemKind = "store-unavailable"
	ProblemCorruptRecord    ProblemKind = "corrupt-record"
	ProblemScope            ProblemKind = "scope-unavailable"
	// ProblemMisconfigured (500): a framework-typed option of another
	// adapter was given to this middleware (ErrForeignRequest).
	ProblemMisconfigured ProblemKind = "server-misconfigured"
	// ProblemResultUnavailable (410): the key's handler ran to completion,
	// but its response was not stored; it will not run again.
	ProblemResultUnavailable ProblemKind = "result-unavailable"
	// ProblemOperationUncertain (423): the key's handler failed after
	// declaring irreversible effects; an operator must resolve the key.
	ProblemOperationUncertain ProblemKind = "operation-uncertain"
	// ProblemNotCommitted (503): the handler's transaction (TxStore) did
	// not commit, or the lease was lost before it could: its response was
	// held back, and a retry with the same key runs it again or replays
	// its result.
	ProblemNotCommitted ProblemKind = "not-committed"
)

// ProblemTypeBase prefixes every problem type URI.
const ProblemTypeBase = "urn:idemkit:problem:"

var problemTitles = map[ProblemKind]string{
	ProblemMissingKey:         "Idempotency key missing",
	ProblemInvalidKey:         "Invalid idempotency key",
	ProblemBodyTooLarge:       "Request body too large",
	ProblemUnreadableBody:     "Request body unreadable",
	ProblemPayloadMismatch:    "Idempotency key reused with a different request",
	ProblemInFlight:           "Request with this idempotency key is in progress",
	ProblemStoreUnavailable:   "Idempotency store unavailable",
	ProblemCorruptRecord:      "Stored response unreadable",
	ProblemScope:              "Idempotency scope unavailable",
	ProblemMisconfigured:      "Idempotency middleware misconfigured",
	ProblemResultUnavailable:  "Result of this request unavailable",
	ProblemOperationUncertain: "Outcome of this request uncertain",
	ProblemNotCommitted:       "Operation not committed",
}

func newProblem(kind ProblemKind, status int, detail string) *Problem {
	return &Problem{
		Type:   ProblemTypeBase + string(kind),
		Title:  problemTitles[kind],
		Status: status,
		Detail: detail,
		Kind:   kind,
	}
}

// ErrorResponder builds the Engine's error responses (missing or invalid
// key, mismatch, conflict, store unavailable, ...). It returns the
// response for the adapter to write, or an error instead: the adapter
// then writes nothing and hands the error to its framework (returned
// from the Echo or Fiber handler, c.Error and Abort on Gin), so that the
// framework's own error handler renders refusals; see
// idemecho.WithHTTPErrors. The default, ProblemResponder, answers RFC 9457
// application/problem+json with Cache-Control: no-store.
type ErrorResponder interface {
	RespondError(r Request, p *Problem) (Response, error)
}

// ErrorResponderFunc adapts a function to ErrorResponder.
type ErrorResponderFunc func(r Request, p *Problem) (Response, error)

// RespondError calls f(r, p).
func (f ErrorResponderFunc) RespondError(r Request, p *Problem) (Response, error) { return f(r, p) }

// ProblemResponder is the default ErrorResponder.
type ProblemResponder struct{}

// RespondError implements ErrorResponder.
func (ProblemResponder) RespondError(_ Request, p *Problem) (Response, error) {
	status, h, body := ProblemResponse(p)
	return Response{Status: status, Header: h, Body: body}, nil
}

// ProblemResponse renders p as status, headers and a problem+json body.
func ProblemResponse(p *Problem) (int, http.Header, []byte) {
	body, err := sonic.Marshal(p)
	if err != nil { // cannot happen for this struct; keep a valid body anyway
		body = []byte(`{"type":"about:blank","title":"Error","status":` + strconv.Itoa(p.Status) + `}`)
	}
	h := http.Header{
		"Content-Type":  {"application/problem+json"},
		"Cache-Control": {"no-store"},
	}
	if p.RetryAfter > 0 {
		h["Retry-After"] = []string{strconv.Itoa(p.RetryAfter)}
	}
	return p.Status, h, body
}
