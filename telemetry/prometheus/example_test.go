package idemprom_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
	idemprom "github.com/idemkit/idempotency/telemetry/prometheus"
)

// Register the driver with the registry your /metrics endpoint serves
// and give it to the Engine (or to every adapter: one Driver per
// registry, shared by all the engines of the process). Events appear at
// zero from the start, so alerts and rate() work before the first
// occurrence; the request metrics appear with the first request. Here one
// message goes through Engine.Do, which labels its measurements with
// method "DO" and its scope as the route.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	d, err := idemprom.New(idemprom.WithRegisterer(reg))
	if err != nil {
		panic(err)
	}
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithTelemetry(d),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer eng.Close(ctx)

	_, _, err = eng.Do(ctx, "orders", "msg-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		return []byte("created"), nil
	})
	if err != nil {
		panic(err)
	}

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range families {
		fmt.Println(mf.GetName(), mf.GetType())
	}
	// Output:
	// idempotency_cache_total COUNTER
	// idempotency_events_total COUNTER
	// idempotency_handler_seconds HISTOGRAM
	// idempotency_requests_total COUNTER
	// idempotency_response_size_bytes HISTOGRAM
}

// With no WithRegisterer the driver registers with
// prometheus.DefaultRegisterer, which promhttp.Handler serves. Create it
// once: a second New on the same registerer is an error.
//
// This example starts a server, so it is compiled but not run.
func ExampleNew_defaultRegisterer() {
	d, err := idemprom.New(idemprom.WithNamespace("payments")) // payments_requests_total, ...
	if err != nil {
		log.Fatal(err)
	}
	eng := core.Must(core.New(core.WithStore(memory.New()), core.WithTelemetry(d)))
	defer eng.Close(context.Background())
	// Adapters take the same option: idemgin.New(core.WithTelemetry(d)).

	http.Handle("/metrics", promhttp.Handler())
	log.Fatal(http.ListenAndServe(":9090", nil))
}
