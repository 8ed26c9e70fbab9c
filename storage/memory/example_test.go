package memory_test

import (
	"context"
	"fmt"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// A single-instance service (or a test) keeps its records in process.
// Size the bounds for the traffic (see the package documentation) and
// hand the store to the Engine, or to an adapter:
//
//	r.Use(idemgin.New(core.WithStore(store)))
//
// Without WithStore the adapters use memory.Default(), one store shared
// by every middleware of the process.
func ExampleNew() {
	store := memory.New(
		memory.WithMaxEntries(200_000), // ≈ 2.3 unique keys/s at the 24 h TTL
		memory.WithMaxBytes(512<<20),   // 512 MiB of records
	)
	eng, err := core.New(core.WithStore(store), core.WithKeyValidator(core.Token()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	for range 2 {
		res, replayed, err := eng.Do(ctx, "orders", "msg-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
			return []byte("created"), nil
		})
		fmt.Println(string(res), replayed, err)
	}
	st := store.Stats()
	fmt.Println("records:", st.Entries, "of", st.MaxEntries)
	// Output:
	// created false <nil>
	// created true <nil>
	// records: 1 of 200000
}

// Stats shows how close the store is to its bounds and what they did;
// export it as metrics. Evicted should stay 0: each eviction drops a
// completed record before its TTL, so a retry of that key runs again.
// Here a store bounded to one record receives a second key, then a retry
// of the first.
func ExampleStore_Stats() {
	store := memory.New(memory.WithMaxEntries(1))
	eng, err := core.New(core.WithStore(store), core.WithKeyValidator(core.Token()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	runs := 0
	fn := func(context.Context) ([]byte, error) { runs++; return []byte("ok"), nil }
	for _, key := range []string{"a", "b", "a"} {
		_, _, _ = eng.Do(ctx, "jobs", key, core.Fingerprint{}, fn)
	}
	st := store.Stats()
	fmt.Println("entries:", st.Entries, "evicted:", st.Evicted)
	// "a" was evicted to make room for "b", so its retry ran again (and
	// evicted "b"); the Engine reported each eviction as RECORD_EVICTED.
	fmt.Println("runs:", runs)
	// Output:
	// entries: 1 evicted: 2
	// runs: 3
}
