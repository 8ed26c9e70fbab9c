package idemredis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
)

// A service running several instances shares its records in Redis, so
// that a retry landing on any instance replays the first one's response.
// Configure the client for deadlines (ContextTimeoutEnabled, short
// timeouts, one retry: see the package documentation) and give the store
// to the Engine, or to an adapter: idemgin.New(core.WithStore(store)).
//
// This example needs a Redis server, so it is compiled but not run.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // honour the Engine's per-call deadlines
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            1,
	})
	defer rdb.Close()
	store := idemredis.New(rdb, idemredis.WithPrefix("orders-api:idem:"))

	ctx := context.Background()
	// Optional at start-up: fail fast when Redis is unreachable, and load
	// the scripts so that the first requests do not pay for it.
	if err := store.Ping(ctx); err != nil {
		log.Fatal(err)
	}
	if err := store.LoadScripts(ctx); err != nil {
		log.Fatal(err)
	}

	eng, err := core.New(
		core.WithStore(store),
		core.WithKeyValidator(core.Token()),
		core.WithStoreTimeout(500*time.Millisecond),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	res, replayed, err := eng.Do(ctx, "orders", "msg-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		return []byte("created"), nil
	})
	fmt.Println(string(res), replayed, err)
}

// Redis Cluster needs no other setting: every key the store writes for
// one idempotency key shares a hash tag, so each script runs on one slot.
// Any redis.UniversalClient works the same way, Sentinel
// (redis.NewFailoverClient) included.
//
// This example needs a Redis Cluster, so it is compiled but not run.
func ExampleNew_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"redis-0:6379", "redis-1:6379", "redis-2:6379"},
		ContextTimeoutEnabled: true,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            1,
	})
	defer rdb.Close()
	eng := core.Must(core.New(core.WithStore(idemredis.New(rdb))))
	defer eng.Close(context.Background())
}

// redis.NewUniversalClient picks a standalone, Sentinel or Cluster client
// from one configuration (one address, a MasterName, or several
// addresses), which suits a service deployed against different Redis
// topologies.
//
// This example needs a Redis server, so it is compiled but not run.
func ExampleNew_universal() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"localhost:6379"}, // from configuration
		ContextTimeoutEnabled: true,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            1,
	})
	defer rdb.Close()
	eng := core.Must(core.New(core.WithStore(idemredis.New(rdb))))
	defer eng.Close(context.Background())
}

// Lease renewals of long handlers must not queue behind request traffic
// for a pooled connection, or a busy pool can cost a running handler its
// lease. Give them a small client of their own, on the same servers.
//
// This example needs a Redis server, so it is compiled but not run.
func ExampleWithRenewClient() {
	opts := func(pool int) *redis.Options {
		return &redis.Options{
			Addr:                  "localhost:6379",
			PoolSize:              pool,
			ContextTimeoutEnabled: true,
			ReadTimeout:           time.Second,
			WriteTimeout:          time.Second,
			MaxRetries:            1,
		}
	}
	rdb := redis.NewClient(opts(50))
	renew := redis.NewClient(opts(2)) // one pipeline per renewal pass
	defer rdb.Close()
	defer renew.Close() // the store closes neither
	store := idemredis.New(rdb, idemredis.WithRenewClient(renew))
	eng := core.Must(core.New(core.WithStore(store)))
	defer eng.Close(context.Background())
}

// RecordKey names the Redis hash of a key, for looking at a record with
// redis-cli or cleaning up by hand (idemctl does it for you). The scoped
// key (core.StoreKey) sits inside a cluster hash tag, after the prefix.
// It needs no server: creating a client does not connect.
func ExampleStore_RecordKey() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	store := idemredis.New(rdb, idemredis.WithPrefix("orders-api:idem:"))

	// A key given to Engine.Do with scope "orders":
	fmt.Println(store.RecordKey(core.StoreKey("orders", "msg-1")))
	// A key that user u-1 sent to POST /payments (default scope user_route):
	scope := core.ScopeString(core.ScopeUserRoute, "u-1", "POST", "/payments", "")
	fmt.Println(store.RecordKey(core.StoreKey(scope, "8e0c5a52-5c39-4f7e-9d6e-4b8f0f3f8a11")))
	// Output:
	// orders-api:idem:{6:orders:msg-1}
	// orders-api:idem:{29:user_route:u-1|POST /payments:8e0c5a52-5c39-4f7e-9d6e-4b8f0f3f8a11}
}
