package core_test

import (
	"context"
	"errors"
	"fmt"

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
