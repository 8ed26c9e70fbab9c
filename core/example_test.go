package core_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// A consumer charges a card for each message. It declares its effects
// just before the charge: when the charge then fails, nobody knows whether
// the money moved, so the key becomes uncertain instead of running again,
// until an operator resolves it. The provider gets a derived key, the same
// on every run, so even a run that is released and retried is
// deduplicated there.
func ExampleDeclareEffects() {
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithDerivedKeySecret([]byte("a secret of at least 16 bytes, shared by every instance")),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	charge := func(ctx context.Context) ([]byte, error) {
		if err := core.DeclareEffects(ctx); err != nil {
			return nil, err // not marked: do not charge; a retry runs afresh
		}
		pspKey, err := core.DerivedKey(ctx, "psp")
		if err != nil {
			return nil, err
		}
		_ = pspKey // sent as the provider's Idempotency-Key
		return nil, errors.New("provider timed out")
	}

	_, _, err = eng.Do(ctx, "charges", "msg-1", core.Fingerprint{}, charge)
	fmt.Println("first run:", err)
	_, _, err = eng.Do(ctx, "charges", "msg-1", core.Fingerprint{}, charge)
	fmt.Println("retry:", errors.Is(err, core.ErrUncertain))

	// The operator finds that the provider never charged, and releases
	// the key: the next delivery runs once more.
	if err := eng.Resolve(ctx, "charges", "msg-1", nil); err != nil {
		panic(err)
	}
	_, _, err = eng.Do(ctx, "charges", "msg-1", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		return []byte("charged"), core.DeclareEffects(ctx)
	})
	fmt.Println("after resolve:", err)
	// Output:
	// first run: provider timed out
	// retry: true
	// after resolve: <nil>
}

// A queue or webhook consumer, with no HTTP involved, hands each message
// to Do under the message id: the first delivery runs the function, a
// redelivery gets the stored result back instead of running it again, and
// the same id with a different body is refused. The fingerprint is
// whatever identifies the payload; here a SHA-256 of the body.
func ExampleEngine_Do() {
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()), // message ids are not UUIDs
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	handle := func(body []byte) func(context.Context) ([]byte, error) {
		return func(ctx context.Context) ([]byte, error) {
			fmt.Printf("  handling %s\n", body)
			return []byte("order 42 created"), nil
		}
	}
	deliver := func(id string, body []byte) {
		fp := core.Fingerprint(sha256.Sum256(body))
		res, replayed, err := eng.Do(ctx, "orders", id, fp, handle(body))
		switch {
		case errors.Is(err, core.ErrMismatch):
			fmt.Println("  refused: id reused with another payload")
		case err != nil:
			// fn failed (released), still in flight elsewhere, uncertain,
			// or the store is down: nack, and the queue redelivers later.
			fmt.Println("  failed:", err)
		default:
			fmt.Printf("  result %q, replayed %v\n", res, replayed)
		}
	}

	fmt.Println("delivery:")
	deliver("msg-1", []byte(`{"sku":"A1","qty":1}`))
	fmt.Println("redelivery:")
	deliver("msg-1", []byte(`{"sku":"A1","qty":1}`))
	fmt.Println("same id, other body:")
	deliver("msg-1", []byte(`{"sku":"A1","qty":2}`))
	// Output:
	// delivery:
	//   handling {"sku":"A1","qty":1}
	//   result "order 42 created", replayed false
	// redelivery:
	//   result "order 42 created", replayed true
	// same id, other body:
	//   refused: id reused with another payload
}

// New takes every setting as an Option and checks them all at
// construction: a store is required (the framework adapters default to
// the in-memory one), and an invalid value is an error wrapping
// ErrInvalidOption rather than a surprise at the first request. Build one
// Engine per configuration at start-up and share it.
func ExampleNew() {
	store := memory.New(memory.WithMaxEntries(50_000))
	eng, err := core.New(
		core.WithStore(store),
		core.WithTTL(time.Hour),
		core.WithLockWait(2*time.Second),
		core.WithScope(core.ScopeUser),
	)
	if err != nil {
		panic(err)
	}
	defer eng.Close(context.Background())
	fmt.Println("store shared:", eng.Store() == store)

	_, err = core.New(core.WithTTL(time.Hour))
	fmt.Println(errors.Is(err, core.ErrInvalidOption), err)
	// Output:
	// store shared: true
	// true idempotency: invalid option: no store: pass core.WithStore (the framework adapters default to the in-memory store)
}

// Tag sets the common per-route options from one string, as a struct tag
// or a route table would hold them:
//
//	r.POST("/votes", idemgin.New(core.Tag("optional,ttl=60s,scope=ip")), vote)
//
// Options apply in order, so a Tag after other options overrides them
// for its route. A malformed tag is an error from New naming the item, so
// a typo fails at start-up instead of silently using a default.
func ExampleTag() {
	ctx := context.Background()
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.Tag("optional,ttl=60s,scope=ip"),
	)
	if err != nil {
		panic(err)
	}
	defer eng.Close(ctx)
	// The tag's ttl applies to what Do stores, too.
	_, _, _ = eng.Do(ctx, "votes", "vote-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		return []byte("counted"), nil
	})
	in, _ := eng.Inspect(ctx, "votes", "vote-1")
	fmt.Println("kept for", time.Until(in.ExpiresAt).Round(time.Minute))

	for _, tag := range []string{"ttl=soon", "optinal", "scope=planet"} {
		_, err := core.New(core.WithStore(memory.New()), core.Tag(tag))
		fmt.Println(errors.Is(err, core.ErrInvalidOption), err)
	}
	// Output:
	// kept for 1m0s
	// true idempotency: invalid option: tag: ttl="soon" is not a duration
	// true idempotency: invalid option: tag: unknown flag "optinal"
	// true idempotency: invalid option: unknown scope "planet"
}

// DerivedKey gives the function a key for its own downstream call (a
// payment provider's Idempotency-Key) that is the same on every run of the
// same operation: when a first run fails after sending the request but
// before storing the result, the run that follows sends the same key, and
// the provider deduplicates it. It needs a secret shared by every
// instance (WithDerivedKeySecret) and works inside Do as inside an HTTP
// handler.
func ExampleDerivedKey() {
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithDerivedKeySecret([]byte("a secret of at least 16 bytes, shared by every instance")),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	var sent []string
	pay := func(fail bool) func(context.Context) ([]byte, error) {
		return func(ctx context.Context) ([]byte, error) {
			pspKey, err := core.DerivedKey(ctx, "psp-charge")
			if err != nil {
				return nil, err
			}
			sent = append(sent, pspKey) // the provider's Idempotency-Key
			if fail {
				return nil, errors.New("connection reset") // released: runs again
			}
			return []byte("paid"), nil
		}
	}
	_, _, err = eng.Do(ctx, "payments", "invoice-7", core.Fingerprint{}, pay(true))
	fmt.Println("first run:", err)
	res, _, err := eng.Do(ctx, "payments", "invoice-7", core.Fingerprint{}, pay(false))
	fmt.Println("second run:", string(res), err)
	_, err = core.UUID().ValidateKey(sent[0])
	fmt.Println("same downstream key:", sent[0] == sent[1], "UUID:", err == nil)

	// Outside a claim there is nothing to derive from.
	_, err = core.DerivedKey(ctx, "psp-charge")
	fmt.Println(errors.Is(err, core.ErrNoClaim))
	// Output:
	// first run: connection reset
	// second run: paid <nil>
	// same downstream key: true UUID: true
	// true
}

// Inspect is the read side of the admin API that idemctl and support
// tools are built on: what the store holds for one key (state, expiry, the
// stored response, the reason of a tombstone or uncertain record).
// Do's records live under the scope given to Do; a key sent over HTTP
// lives under the scope the middleware resolved, which ScopeString
// rebuilds.
func ExampleEngine_Inspect() {
	eng, err := core.New(core.WithStore(memory.New()), core.WithKeyValidator(core.Token()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	_, _, _ = eng.Do(ctx, "shipments", "ship-9", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		return []byte("shipped"), nil
	})
	in, err := eng.Inspect(ctx, "shipments", "ship-9")
	if err != nil {
		panic(err)
	}
	fmt.Println(in.State, in.Response.Status, string(in.Response.Body))

	_, err = eng.Inspect(ctx, "shipments", "ship-10")
	fmt.Println("unknown key:", errors.Is(err, core.ErrNotFound))

	// The scope of a key that user-1 sent to POST /payments, under the
	// default scope (user_route):
	fmt.Println(core.ScopeString(core.ScopeUserRoute, "user-1", "POST", "/payments", ""))
	// Output:
	// completed 200 shipped
	// unknown key: true
	// user_route:user-1|POST /payments
}

// Flush forgets a key, completed or in flight, so that the next request
// with it runs afresh: an operator's tool for a stored response that must
// not be replayed (say, one stored by a bug since fixed). It is not a
// retry mechanism: the next request runs the operation again. An owner
// still running when its key is flushed cannot store its result (its
// fencing token no longer matches). Flushing an unknown key is no error.
func ExampleEngine_Flush() {
	eng, err := core.New(core.WithStore(memory.New()), core.WithKeyValidator(core.Token()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)
	runs := 0
	run := func(context.Context) ([]byte, error) { runs++; return []byte("shipped"), nil }

	_, _, _ = eng.Do(ctx, "shipments", "ship-9", core.Fingerprint{}, run)
	if err := eng.Flush(ctx, "shipments", "ship-9"); err != nil {
		panic(err)
	}
	_, replayed, _ := eng.Do(ctx, "shipments", "ship-9", core.Fingerprint{}, run)
	fmt.Println("replayed:", replayed, "runs:", runs)
	fmt.Println("unknown key:", eng.Flush(ctx, "shipments", "ship-10"))
	// Output:
	// replayed: false runs: 2
	// unknown key: <nil>
}
