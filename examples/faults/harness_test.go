package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/servertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.Cleanup()
	os.Exit(code)
}

// newClient returns an HTTP client for many concurrent requests to
// loopback servers. Its timeout is far above any answer a healthy server
// gives under the faults played here (store calls are bounded by the
// engine's store timeout, 2s), so a client error is a finding.
func newClient(t *testing.T) *http.Client {
	c := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 256},
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// outcome is one request and what it got.
type outcome struct {
	key        string
	server     string // the server's name and address
	sent, recv time.Time
	r          servertest.Reply
	err        error
	// epoch is the store's life the request belongs to (scenarios that
	// restart an empty Redis count its lives); -1 for a request that
	// overlapped a restart and belongs to none.
	epoch int
}

// ledger records every request of a scenario, and the amount each key's
// payments carry: each key its own, so a body replayed under the wrong key
// shows.
type ledger struct {
	mu      sync.Mutex
	all     []outcome
	amounts map[string]int
	epoch   func(sent, recv time.Time) int
	// anyEpoch lets a Repeated be any Original of its key sent before
	// the Repeated was answered, not only its own epoch's (a scenario
	// whose keys may run again checks its re-runs itself).
	anyEpoch bool
}

func newLedger() *ledger { return &ledger{amounts: map[string]int{}} }

// newKey returns a fresh key with its own amount.
func (l *ledger) newKey() string {
	k := servertest.NewKey()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.amounts[k] = 1000 + len(l.amounts)
	return k
}

func (l *ledger) body(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf(`{"amount":%d,"currency":"EUR"}`, l.amounts[key])
}

// pay sends POST path for key to srv and records the outcome.
func (l *ledger) pay(ctx context.Context, c *http.Client, srv *servertest.Server, path, key string) outcome {
	return l.payIn(ctx, c, srv, path, key, -1)
}

// payIn is pay in a given epoch (-1: the one l.epoch says, else 0).
func (l *ledger) payIn(ctx context.Context, c *http.Client, srv *servertest.Server, path, key string, epoch int) outcome {
	o := outcome{key: key, server: srv.Name + "@" + srv.Base, sent: time.Now(), epoch: max(epoch, 0)}
	o.r, o.err = servertest.Post(ctx, c, srv.Base, path, key, l.body(key))
	o.recv = time.Now()
	l.mu.Lock()
	if l.epoch != nil && epoch < 0 {
		o.epoch = l.epoch(o.sent, o.recv)
	}
	l.all = append(l.all, o)
	l.mu.Unlock()
	return o
}

func (l *ledger) outcomes() []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]outcome(nil), l.all...)
}

// payment is the body of a 201 from POST /payments.
type payment struct {
	ID       string `json:"id"`
	Amount   int    `json:"amount"`
	Currency string `json:"currency"`
	User     string `json:"user"`
}

// notCharged tells the handler's own 503, answered when it could not
// declare its effects (the store failed): it ran, and charged nothing.
const notCharged = "not charged"

// tally is what check counted.
type tally struct {
	originals, repeated, notCharged int
	status                          map[string]int // "201 Original", "503 store-unavailable", ...
	// original is each key's Original body per epoch.
	original map[string]map[int]string
}

func (t tally) String() string {
	parts := make([]string, 0, len(t.status))
	for k, n := range t.status {
		parts = append(parts, fmt.Sprintf("%s×%d", k, n))
	}
	return strings.Join(parts, ", ")
}

// check checks every outcome of l:
//
//   - no transport error: every request got an answer;
//   - its status is one allowed lists (by label: "201 Original",
//     "201 Repeated", "409 request-in-flight", "503 store-unavailable",
//     "503 not-charged", "423 operation-uncertain", ...);
//   - every 201 is a payment of the key's own amount;
//   - per key and epoch at most one Original: the handler charged once;
//   - every Repeated is byte for byte the Original of its key and epoch,
//     so no replay carries bytes the handler did not produce.
//
// Problems are reported with t.Errorf (at most a few of each kind).
func (l *ledger) check(t *testing.T, allowed ...string) tally {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	tl := tally{status: map[string]int{}, original: map[string]map[int]string{}}
	outs := l.outcomes()
	reported := map[string]int{}
	fail := func(kind, format string, args ...any) {
		t.Helper()
		if reported[kind]++; reported[kind] <= 3 {
			t.Errorf(format, args...)
		}
	}
	// Originals first, so that a replay can be compared whatever order
	// the answers came in.
	for _, o := range outs {
		if o.err != nil || o.r.Status != http.StatusCreated || o.r.Idem() != "Original" {
			continue
		}
		byEpoch := tl.original[o.key]
		if byEpoch == nil {
			byEpoch = map[int]string{}
			tl.original[o.key] = byEpoch
		}
		if prev, dup := byEpoch[o.epoch]; dup {
			fail("double", "key %s (epoch %d) ran twice: Original %s, then Original %s (from %s): a second execution",
				o.key, o.epoch, prev, o.r.Body, o.server)
			continue
		}
		byEpoch[o.epoch] = o.r.Body
	}
	for _, o := range outs {
		if o.err != nil {
			fail("err", "%s to %s: %v", o.key, o.server, o.err)
			continue
		}
		label := replyLabel(o.r)
		tl.status[label]++
		if !ok[label] {
			fail("status "+label, "%s to %s (epoch %d): unexpected %v", o.key, o.server, o.epoch, o.r)
		}
		switch label {
		case "201 Original":
			tl.originals++
		case "201 Repeated":
			tl.repeated++
			orig, seen := tl.original[o.key][o.epoch]
			if l.anyEpoch {
				for _, p := range outs {
					if p.key == o.key && p.err == nil && p.r.Idem() == "Original" && p.r.Status == http.StatusCreated &&
						p.sent.Before(o.recv) && p.r.Body == o.r.Body {
						orig, seen = p.r.Body, true
						break
					}
				}
			}
			if !seen {
				fail("orphan", "key %s (epoch %d) replayed %s from %s, which no Original of it answered", o.key, o.epoch, o.r.Body, o.server)
			} else if o.r.Body != orig {
				fail("mismatch", "key %s (epoch %d) replayed %s from %s, its Original answered %s", o.key, o.epoch, o.r.Body, o.server, orig)
			}
		case "503 not-charged":
			tl.notCharged++
		}
		if o.r.Status == http.StatusCreated {
			var p payment
			if err := sonic.ConfigStd.UnmarshalFromString(o.r.Body, &p); err != nil || !strings.HasPrefix(p.ID, "pay_") ||
				p.User != "alice" || p.Currency != "EUR" || p.Amount != l.amountOf(o.key) {
				fail("body", "key %s got %s from %s: not a payment of its amount %d (%v)", o.key, o.r.Body, o.server, l.amountOf(o.key), err)
			}
		}
	}
	return tl
}

func (l *ledger) amountOf(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.amounts[key]
}

// replyLabel names a reply for check: the status and either the
// Idempotency-Status, the problem type's last segment, or "not-charged".
func replyLabel(r servertest.Reply) string {
	s := strconv.Itoa(r.Status)
	if r.Status >= 500 && strings.Contains(r.Body, notCharged) {
		// The handler's own 503 (the middleware marks it Original).
		return s + " not-charged"
	}
	if r.Idem() != "" {
		return s + " " + r.Idem()
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		var p struct {
			Type string `json:"type"`
		}
		if sonic.ConfigStd.UnmarshalFromString(r.Body, &p) == nil && strings.HasPrefix(p.Type, core.ProblemTypeBase) {
			return s + " " + strings.TrimPrefix(p.Type, core.ProblemTypeBase)
		}
		return s + " problem"
	}
	return s + " other"
}

// executions sums the payment handler's runs on servers.
func executions(t *testing.T, servers ...*servertest.Server) int64 {
	t.Helper()
	var n int64
	for _, s := range servers {
		n += s.MustStats(t).Payments
	}
	return n
}

// account checks that the handler ran exactly as often as the clients
// saw it run: once per Original (a charge) and once per not-charged 503
// (a run that declared nothing and charged nothing). A run more is an
// execution nobody was told about, which is how a double execution whose
// answer was lost would look.
func account(t *testing.T, tl tally, runs int64) {
	t.Helper()
	if want := int64(tl.originals + tl.notCharged); runs != want {
		t.Errorf("the payment handler ran %d times; the clients saw %d Originals and %d not-charged 503s (%d runs)",
			runs, tl.originals, tl.notCharged, want)
	}
}

// settle sends key to the servers in turn until it gets a 201 (or, when
// uncertainOK, a 423), for at most limit, and returns the last outcome.
func (l *ledger) settle(ctx context.Context, t *testing.T, c *http.Client, path, key string, limit time.Duration, uncertainOK bool, servers ...*servertest.Server) outcome {
	t.Helper()
	deadline := time.Now().Add(limit)
	for i := 0; ; i++ {
		o := l.pay(ctx, c, servers[i%len(servers)], path, key)
		if o.err == nil && (o.r.Status == http.StatusCreated || (uncertainOK && o.r.Status == http.StatusLocked)) {
			return o
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Errorf("key %s did not settle within %v: last %v, %v", key, limit, o.r, o.err)
			return o
		}
		time.Sleep(100 * time.Millisecond)
	}
}
