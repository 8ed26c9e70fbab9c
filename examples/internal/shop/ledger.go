package shop

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/idemkit/idempotency/core"
)

// Ledger keeps the payments a Shop creates in a database, in the
// transaction of the request's idempotency claim, so that a payment and
// its idempotency record commit together or not at all (the -postgres
// servers: package pgshop on idempg). Without one (SetLedger), payments
// exist only as the response that says so, as on the memory and Redis
// stores.
type Ledger interface {
	// RecordPayment writes p in the claim's transaction of the request
	// whose handler runs with ctx, and returns the payment's number (the
	// N of pay_N), unique across the instances that share the database.
	// It returns an error wrapping core.ErrNoClaim when no claim of the
	// ledger's store covers the request.
	RecordPayment(ctx context.Context, p Payment) (int64, error)
	// Payments returns the number of committed payments.
	Payments(ctx context.Context) (int64, error)
}

// Payment is one payment as a Ledger records it.
type Payment struct {
	Amount   int64
	Currency string
	User     string
}

// SetLedger makes POST /payments record each payment in l, in the claim's
// transaction, and GET /stats report l's committed payments. Call it
// before serving.
//
// With a ledger, a payment's row is written right after validation and
// the query switches (effects, delay, fail, panic) run after it, as a
// handler that fails once it has written: fail=500 and panic=1 then show
// the row rolled back with the claim, which is released (no
// effects were declared: the row is the only effect, and the transaction
// undoes it). Refunds, votes, webhooks and exports are unchanged.
func (s *Shop) SetLedger(l Ledger) { s.ledger = l }

// Committed is the part of GET /stats that a Ledger reports: what the
// database holds, as opposed to how often the handlers ran.
type Committed struct {
	Payments int64 `json:"payments"`
}

// pay is POST /payments on a ledger: validation, the row in the claim's
// transaction, then the query switches, which may still fail the
// request (and so roll the row back).
func (s *Shop) pay(ctx context.Context, req *Request) *Response {
	m, resp := parseMoney(req)
	if resp != nil {
		return resp
	}
	n, err := s.ledger.RecordPayment(ctx, Payment(m))
	switch {
	case errors.Is(err, core.ErrNoClaim):
		return Error(http.StatusServiceUnavailable, "not charged: no idempotency claim protects this request")
	case err != nil:
		// Nothing committed: the 5xx rolls the transaction back with the
		// claim, which is released for a retry.
		return Error(http.StatusServiceUnavailable, "not charged: the payment could not be recorded; retry later")
	}
	if resp := simulate(ctx, req.Query); resp != nil {
		return resp
	}
	return created("pay_"+strconv.FormatInt(n, 10), "/payments/", m)
}
