package idempg_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// A service keeps its idempotency records in its own PostgreSQL database.
// Migrate once at start-up (or from the deployment), then give the store
// to the Engine, or to an adapter: idemgin.New(core.WithStore(store)).
//
// This example needs a PostgreSQL server, so it is compiled but not run.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@localhost/app?pool_max_conns=20")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	renew, err := pgxpool.New(ctx, "postgres://app@localhost/app?pool_max_conns=2")
	if err != nil {
		log.Fatal(err)
	}
	defer renew.Close()
	if err := idempg.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	store, err := idempg.New(pool,
		idempg.WithRenewPool(renew),                 // renewals never wait behind handlers' transactions
		idempg.WithPurgeInterval(time.Minute, 1000), // delete expired records in the background
	)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	eng, err := core.New(core.WithStore(store), core.WithStoreTimeout(500*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	res, replayed, err := eng.Do(ctx, "orders", "msg-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		return []byte("created"), nil
	})
	fmt.Println(string(res), replayed, err)
}

// A handler writes its business rows in the claim's transaction: the
// Engine commits them together with the completed record, or neither.
// Retries of msg-1 replay "paid" and never insert a second payment, even
// when the first attempt crashed or lost its lease mid-way.
//
// This example needs a PostgreSQL server, so it is compiled but not run.
func ExampleTx() {
	ctx := context.Background()
	var eng *core.Engine // with core.WithStore(store), an idempg store
	res, replayed, err := eng.Do(ctx, "payments", "msg-1", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		tx, err := idempg.Tx(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payments (id, amount) VALUES ($1, $2)`, "msg-1", 100); err != nil {
			return nil, err // rolled back; the claim is released, a retry runs again
		}
		return []byte("paid"), nil // committed with the record
	})
	fmt.Println(string(res), replayed, err)
}
