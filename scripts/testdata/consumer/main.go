// Command consumer is what a user of idemkit writes: it is built by
// scripts/consumer.sh in an empty module outside the repository, against
// the published modules as a proxy serves them (no go.work, no replace).
// It mounts idemgin, idemecho (Echo v4 and v5), idemfiber (Fiber v2 and v3) and idemhttp on one route each, posts twice
// with the same Idempotency-Key and checks that the second answer is a
// replay; it constructs the Redis and PostgreSQL stores, the Prometheus and OpenTelemetry
// drivers and the XXH3 hash. It uses
// only the most stable API (the constructors and core.WithStore,
// core.WithTelemetry, core.WithHashAlgorithm), and exits non-zero on any failure.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemecho "github.com/idemkit/idempotency/echo"
	idemechov5 "github.com/idemkit/idempotency/echov5"
	idemfiber "github.com/idemkit/idempotency/fiber"
	idemfiberv3 "github.com/idemkit/idempotency/fiberv3"
	idemgin "github.com/idemkit/idempotency/gin"
	idemhttp "github.com/idemkit/idempotency/nethttp"
	idempg "github.com/idemkit/idempotency/storage/postgres"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	idemotel "github.com/idemkit/idempotency/telemetry/otel"
	idemprom "github.com/idemkit/idempotency/telemetry/prometheus"
	idemxxh3 "github.com/idemkit/idempotency/xxh3"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("consumer: ok")
}

func run() error {
	reg := prometheus.NewRegistry()
	prom, err := idemprom.New(idemprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("idemprom.New: %v", err)
	}
	// The Redis store at construction only (no server here): New must
	// accept a go-redis client and the Engine must accept the store.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer rdb.Close()
	var store core.Store = idemredis.New(rdb)
	_ = idemgin.New(core.WithStore(store), core.WithTelemetry(prom))
	// The PostgreSQL store likewise: pgxpool connects lazily, and the store
	// must be a core.TxStore (transactional completion).
	pool, err := pgxpool.New(context.Background(), "postgres://app@127.0.0.1:1/app")
	if err != nil {
		return fmt.Errorf("pgxpool.New: %v", err)
	}
	defer pool.Close()
	pg, err := idempg.New(pool)
	if err != nil {
		return fmt.Errorf("idempg.New: %v", err)
	}
	var _ core.TxStore = pg
	_ = idemgin.New(core.WithStore(pg))
	// The OpenTelemetry driver (global no-op providers) and the XXH3
	// fingerprint hash, at construction.
	otelDriver, err := idemotel.New()
	if err != nil {
		return fmt.Errorf("idemotel.New: %v", err)
	}
	_ = idemecho.New(core.WithTelemetry(otelDriver), core.WithHashAlgorithm(idemxxh3.New))

	// The adapters on their default store (the in-memory one).
	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	charges := map[string]int{}
	g.POST("/gin", idemgin.New(core.WithTelemetry(prom)), func(c *gin.Context) {
		charges["gin"]++
		c.JSON(http.StatusCreated, gin.H{"charge": charges["gin"]})
	})
	e := echo.New()
	e.POST("/echo", func(c echo.Context) error {
		charges["echo"]++
		return c.JSON(http.StatusCreated, map[string]int{"charge": charges["echo"]})
	}, idemecho.New(core.WithTelemetry(prom)))
	e5 := echov5.New()
	e5.POST("/echov5", func(c *echov5.Context) error {
		charges["echov5"]++
		return c.JSON(http.StatusCreated, map[string]int{"charge": charges["echov5"]})
	}, idemechov5.New(core.WithTelemetry(prom)))
	f := fiber.New(fiber.Config{DisableStartupMessage: true})
	f.Post("/fiber", idemfiber.New(core.WithTelemetry(prom)), func(c *fiber.Ctx) error {
		charges["fiber"]++
		return c.Status(http.StatusCreated).JSON(map[string]int{"charge": charges["fiber"]})
	})
	f3 := fiberv3.New()
	f3.Post("/fiberv3", idemfiberv3.New(core.WithTelemetry(prom)), func(c fiberv3.Ctx) error {
		charges["fiberv3"]++
		return c.Status(http.StatusCreated).JSON(map[string]int{"charge": charges["fiberv3"]})
	})

	mux := http.NewServeMux()
	mux.Handle("POST /nethttp", idemhttp.New(core.WithTelemetry(prom))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		charges["nethttp"]++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"charge":%d}`, charges["nethttp"])
	})))

	serve := map[string]func(*http.Request) (*http.Response, error){
		"gin":     func(r *http.Request) (*http.Response, error) { return record(g, r), nil },
		"echo":    func(r *http.Request) (*http.Response, error) { return record(e, r), nil },
		"echov5":  func(r *http.Request) (*http.Response, error) { return record(e5, r), nil },
		"nethttp": func(r *http.Request) (*http.Response, error) { return record(mux, r), nil },
		"fiber": func(r *http.Request) (*http.Response, error) {
			return f.Test(r, -1)
		},
		"fiberv3": func(r *http.Request) (*http.Response, error) {
			return f3.Test(r, fiberv3.TestConfig{Timeout: 0})
		},
	}
	for _, name := range []string{"gin", "echo", "echov5", "fiber", "fiberv3", "nethttp"} {
		var first string
		for i, want := range []string{"Original", "Repeated"} {
			req := httptest.NewRequest(http.MethodPost, "/"+name, strings.NewReader(`{"amount":100}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b2"+fmt.Sprint(len(name)))
			resp, err := serve[name](req)
			if err != nil {
				return fmt.Errorf("%s: request %d: %v", name, i+1, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status := resp.Header.Get("Idempotency-Status")
			fmt.Printf("%s: POST #%d: %d %s %s\n", name, i+1, resp.StatusCode, status, strings.TrimSpace(string(body)))
			if resp.StatusCode != http.StatusCreated || status != want {
				return fmt.Errorf("%s: POST #%d: got %d, Idempotency-Status %q; want 201, %q", name, i+1, resp.StatusCode, status, want)
			}
			if i == 0 {
				first = string(body)
			} else if string(body) != first {
				return fmt.Errorf("%s: replayed body %q, want %q", name, body, first)
			}
		}
		if charges[name] != 1 {
			return fmt.Errorf("%s: handler ran %d times, want 1", name, charges[name])
		}
	}

	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("prometheus: %v", err)
	}
	if len(mfs) == 0 {
		return fmt.Errorf("prometheus: idemprom recorded nothing")
	}
	return nil
}

func record(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}
