package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/idemkit/idempotency/core"
)

// fakeLedger records payments in memory, as pgshop does in the claim's
// transaction; err, when set, is what RecordPayment answers.
type fakeLedger struct {
	mu       sync.Mutex
	payments []Payment
	err      error
}

func (l *fakeLedger) RecordPayment(_ context.Context, p Payment) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	l.payments = append(l.payments, p)
	return int64(len(l.payments)) + 100, nil
}

func (l *fakeLedger) Payments(context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	return int64(len(l.payments)), nil
}

var _ Ledger = (*fakeLedger)(nil)

// Without a ledger, GET /stats answers exactly SPEC §6's shape: the demo
// compares it byte for byte across the servers.
func TestStatsWithoutLedger(t *testing.T) {
	s := New()
	pay(s, Payments, "", `{"amount":1,"currency":"EUR"}`, "alice")
	const want = `{"executions":{"payments":1,"refunds":0,"votes":0,"webhooks":0,"exports":0}}`
	if got := string(s.Handle(context.Background(), Stats, &Request{}).Body); got != want {
		t.Errorf("stats %s, want %s", got, want)
	}
}

// With a ledger, payments take their id from it and GET /stats adds what
// it holds; the switches run after the row is written, so fail=500 fails
// a payment whose row exists (the transaction, not the shop, undoes it);
// a body that does not validate writes nothing; refunds are unchanged.
func TestLedger(t *testing.T) {
	s, l := New(), &fakeLedger{}
	s.SetLedger(l)
	r := pay(s, Payments, "", `{"amount":7,"currency":"EUR"}`, "alice")
	if r.Status != http.StatusCreated || r.Header.Get("Location") != "/payments/pay_101" {
		t.Fatalf("payment: %d %s %v", r.Status, r.Body, r.Header)
	}
	if len(l.payments) != 1 || l.payments[0] != (Payment{Amount: 7, Currency: "EUR", User: "alice"}) {
		t.Errorf("ledger %+v", l.payments)
	}
	if r := pay(s, Payments, "fail=500", `{"amount":7,"currency":"EUR"}`, ""); r.Status != http.StatusInternalServerError || len(l.payments) != 2 {
		t.Errorf("fail=500: %d, %d rows written, want 500 after the second row", r.Status, len(l.payments))
	}
	if r := pay(s, Payments, "fail=500", `{"amount":0,"currency":"EUR"}`, ""); r.Status != http.StatusBadRequest || len(l.payments) != 2 {
		t.Errorf("invalid body: %d, %d rows, want 400 and no row", r.Status, len(l.payments))
	}
	if r := pay(s, Refunds, "", `{"amount":7,"currency":"EUR"}`, ""); r.Status != http.StatusCreated || r.Header.Get("Location") != "/refunds/ref_1" || len(l.payments) != 2 {
		t.Errorf("refund: %d %v, %d rows", r.Status, r.Header, len(l.payments))
	}
	const want = `{"executions":{"payments":3,"refunds":1,"votes":0,"webhooks":0,"exports":0},"committed":{"payments":2}}`
	if got := string(s.Handle(context.Background(), Stats, &Request{}).Body); got != want {
		t.Errorf("stats %s, want %s", got, want)
	}

	// The ledger's failures are 503s, which release the key: no claim,
	// and a database that does not answer.
	l.err = fmt.Errorf("%w: no tx", core.ErrNoClaim)
	if r := pay(s, Payments, "", `{"amount":7,"currency":"EUR"}`, ""); r.Status != http.StatusServiceUnavailable || !contains(r.Body, "no idempotency claim") {
		t.Errorf("no claim: %d %s", r.Status, r.Body)
	}
	l.err = errors.New("connection refused")
	if r := pay(s, Payments, "", `{"amount":7,"currency":"EUR"}`, ""); r.Status != http.StatusServiceUnavailable || !contains(r.Body, "could not be recorded") {
		t.Errorf("ledger down: %d %s", r.Status, r.Body)
	}
	if r := s.Handle(context.Background(), Stats, &Request{}); r.Status != http.StatusServiceUnavailable {
		t.Errorf("stats with the ledger down: %d %s", r.Status, r.Body)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
