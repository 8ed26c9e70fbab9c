package core

import (
	"context"
	"sync/atomic"
	"time"
)

// Engine runs the idempotency protocol. It is framework-agnostic: adapters
// hand it an Exchange per request (Serve), and queue or webhook consumers
// call Do. An Engine is safe for concurrent use.
type Engine struct {
	cfg          config
	scopeName    string
	measure      bool // false with the null driver: skip building measurements
	claimTTL     time.Duration
	warnedGlobal atomic.Bool
	dups         dupCounter
	alerts       alerter
	renew        renewer
	bg           background
	// deadline is false for stores whose calls never block (NonBlocking):
	// a per-call deadline would only cost an allocation there.
	deadline bool
	// ring signs and verifies records (WithRecordKeys), or is nil.
	ring *keyRing
	// flights are the keys requests of this process wait on (begin.go).
	flights flights
}

// New builds an Engine. It returns an error wrapping ErrInvalidOption when
// an option is invalid or no store is configured.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{cfg: defaultConfig()}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&e.cfg); err != nil {
			return nil, err
		}
	}
	c := &e.cfg
	if c.store == nil {
		return nil, invalid("no store: pass core.WithStore (the framework adapters default to the in-memory store)")
	}
	if c.extractor == nil {
		c.extractor = HeaderKey(DefaultHeaderName)
	}
	if c.validator == nil {
		c.validator = UUID()
	}
	if c.hasher == nil {
		h, err := NewCanonicalHasher(c.hashOpts...)
		if err != nil {
			return nil, err
		}
		c.hasher = h
	} else if len(c.hashOpts) > 0 {
		return nil, invalid("hasher options (hash algorithm, ignored fields, multipart limits, files) configure the default hasher; pass them to NewCanonicalHasher for your own PayloadHasher instead")
	}
	if c.serializer == nil {
		c.serializer = BinarySerializer{}
	}
	if c.responder == nil {
		c.responder = ProblemResponder{}
	}
	if c.telemetry == nil {
		c.telemetry = NullTelemetry{}
	}
	_, isNull := c.telemetry.(NullTelemetry)
	e.measure = !isNull
	c.renewEvery = c.lease / 3
	// An in-flight record must outlive its lease, whatever the TTL of
	// completed records.
	e.claimTTL = max(c.ttl, 2*c.lease)
	e.scopeName = string(c.scope)
	if c.scopeResolver != nil {
		e.scopeName = "custom"
	}
	if len(c.recordKeys) > 0 {
		ring, err := newKeyRing(c.recordKeys)
		if err != nil {
			return nil, err
		}
		ring.encrypt = c.encrypt
		e.ring = ring
	} else if c.encrypt {
		return nil, invalid("record encryption needs record keys (WithRecordKeys)")
	}
	_, nonBlocking := c.store.(NonBlocking)
	e.deadline = c.storeTimeout > 0 && !nonBlocking
	e.bg.init()
	e.alerts.init(c, &e.bg)
	return e, nil
}

// Must returns e, or panics with err. It suits program start-up:
// idemgin.New uses it so that r.Use(idemgin.New(...)) reads naturally.
func Must(e *Engine, err error) *Engine {
	if err != nil {
		panic(err)
	}
	return e
}

// Store returns the Engine's store.
func (e *Engine) Store() Store { return e.cfg.store }

// request is what the Engine knows about one request once it is keyed.
type request struct {
	e        *Engine
	ex       Exchange // nil in Do
	req      Request  // ex.Request(); nil in Do
	ctx      context.Context
	key      string
	scope    string
	storeKey string
	begunAt  time.Time // when the Begin that claimed the key was sent
	// m is the request's one measurement: each step fills in what it
	// learns (Method and Route first, the outcome when it is answered,
	// the handler time when the handler returns) and finish hands it to
	// telemetry once, at the end, whichever way the request ends.
	m Measurement
	// fp and claim live here because a request is allocated anyway:
	// as separate values they would each escape to the heap.
	fp    FingerprintInput
	fpv   Fingerprint // the request's fingerprint, which seals bind to
	claim claim
	fx    effects
	resp  Response
	// t is the claim's transaction state, only for a TxStore: the
	// fields live apart so that a request on any other store stays in a
	// smaller allocation size class (replays included).
	t *txState
}
