package idemxxh3_test

import (
	"context"
	"fmt"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
	idemxxh3 "github.com/idemkit/idempotency/xxh3"
)

// Choose XXH3 as the fingerprint hash of an Engine (or of an adapter:
// idemgin.New(core.WithHashAlgorithm(idemxxh3.New))) when fingerprinting
// large bodies shows in profiles and the clients are trusted not to craft
// collisions; SHA-256, the default, resists them. Only the hash changes:
// the canonical form is the same, so two requests whose JSON differs only
// in key order and spacing still get one fingerprint, and the retry
// replays instead of being refused as another payload. Here a consumer
// fingerprints each message body with the same canonical hasher the
// Engine uses for HTTP requests and passes it to Engine.Do.
func Example() {
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithHashAlgorithm(idemxxh3.New), // fingerprints of HTTP requests
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	// The same option configures a hasher of your own (here, to
	// fingerprint the messages a queue consumer passes to Do).
	hasher, err := core.NewCanonicalHasher(core.WithHashAlgorithm(idemxxh3.New))
	if err != nil {
		panic(err)
	}
	fingerprint := func(body string) core.Fingerprint {
		fp, err := hasher.Fingerprint(&core.FingerprintInput{
			Method: "POST", Path: "/orders", ContentType: "application/json", Body: []byte(body),
		})
		if err != nil {
			panic(err)
		}
		return fp
	}
	first := fingerprint(`{"sku":"A1","qty":1,"note":{"gift":true,"to":"Ann"}}`)
	retry := fingerprint(`{ "qty": 1, "note": {"to": "Ann", "gift": true}, "sku": "A1" }`)
	other := fingerprint(`{"sku":"A1","qty":2,"note":{"gift":true,"to":"Ann"}}`)
	fmt.Println("same fingerprint:", first == retry, "other payload:", first == other)

	run := func(context.Context) ([]byte, error) { return []byte("order 42"), nil }
	for _, fp := range []core.Fingerprint{first, retry, other} {
		res, replayed, err := eng.Do(ctx, "orders", "msg-1", fp, run)
		fmt.Printf("%q %v %v\n", res, replayed, err)
	}
	// Output:
	// same fingerprint: true other payload: false
	// "order 42" false <nil>
	// "order 42" true <nil>
	// "" false idempotency: key reused with a different payload
}

// New returns a hash.Hash computing XXH3-128, for core.WithHashAlgorithm
// or any other use of a fast non-cryptographic hash. Sum appends the
// 16-byte digest big-endian, the canonical XXH128 form.
func ExampleNew() {
	h := idemxxh3.New()
	h.Write([]byte("idemkit"))
	fmt.Printf("%d bytes: %x\n", h.Size(), h.Sum(nil))
	// Output: 16 bytes: fd5b4570e1dc7220dee6a52d1f77fc04
}
