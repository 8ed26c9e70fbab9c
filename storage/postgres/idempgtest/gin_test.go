package idempgtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idemgin "github.com/idemkit/idempotency/gin"
	idempg "github.com/idemkit/idempotency/storage/postgres"
	"github.com/idemkit/idempotency/storage/postgres/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(pgtest.Main(m, func(s *pgtest.Server) int {
		srv = s
		if s != nil {
			pool, err := pgxpool.New(context.Background(), s.DSN)
			if err == nil {
				err = idempg.Migrate(context.Background(), pool)
				if err == nil {
					_, err = pool.Exec(context.Background(), `CREATE TABLE payments (key text PRIMARY KEY, amount int NOT NULL)`)
				}
				pool.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "setup:", err)
				return 1
			}
		}
		return m.Run()
	}))
}

// server is a Gin app on an idempg store whose POST /payments/:id pays in
// the claim's transaction; before it answers, meddle (when set) runs.
type server struct {
	pool   *pgxpool.Pool
	store  *idempg.Store
	url    string
	runs   atomic.Int32
	meddle func(ctx context.Context, key string)
}

func newServer(t *testing.T) *server {
	t.Helper()
	if srv == nil {
		t.Skip("no PostgreSQL server (pgtest)")
	}
	pool, err := pgxpool.New(context.Background(), srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st, err := idempg.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s := &server{pool: pool, store: st}
	mw, err := idemgin.NewE(core.WithStore(st), core.WithKeyValidator(core.Token()))
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.POST("/payments/:id", mw, func(c *gin.Context) {
		s.runs.Add(1)
		ctx := c.Request.Context()
		id := c.Param("id")
		if c.Query("tx") == "0" { // a handler that never asks for the transaction
			c.JSON(http.StatusCreated, gin.H{"id": id, "tx": false})
			return
		}
		tx, err := idempg.Tx(ctx)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payments (key, amount) VALUES ($1, 100)`, id); err != nil {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.Header("Location", "/payments/"+id)
		c.JSON(http.StatusCreated, gin.H{"id": id, "tx": true})
		if s.meddle != nil {
			s.meddle(ctx, c.GetHeader("Idempotency-Key"))
		}
	})
	hs := httptest.NewServer(r)
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (s *server) post(t *testing.T, path, key string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(`{"amount":100}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (s *server) paid(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM payments WHERE key = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var seq atomic.Int64

func ids() (id, key string) {
	n := seq.Add(1)
	return fmt.Sprintf("p%d-%d", time.Now().UnixNano(), n), fmt.Sprintf("k%d-%d", time.Now().UnixNano(), n)
}

func TestGinPaymentCommitsWithRecord(t *testing.T) {
	s := newServer(t)
	id, key := ids()
	r := s.post(t, "/payments/"+id, key)
	if r.status != http.StatusCreated || r.header.Get("Idempotency-Status") != "Original" || r.header.Get("Location") != "/payments/"+id {
		t.Fatalf("first = %d %v %s", r.status, r.header, r.body)
	}
	r = s.post(t, "/payments/"+id, key)
	if r.status != http.StatusCreated || r.header.Get("Idempotency-Status") != "Repeated" || !strings.Contains(r.body, id) {
		t.Fatalf("retry = %d %v %s", r.status, r.header, r.body)
	}
	if s.runs.Load() != 1 || s.paid(t, id) != 1 {
		t.Fatalf("runs %d, payments %d; want 1 and 1", s.runs.Load(), s.paid(t, id))
	}
}

// The claim is lost after the handler wrote its 201 (an operator deleted
// the key and another request claimed it): the fenced completion is
// refused, the payment rolls back, and the client gets 503 not-committed,
// never the 201 it would have taken for success.
func TestGinHeldResponseReplacedWhenNotCommitted(t *testing.T) {
	s := newServer(t)
	id, key := ids()
	s.meddle = func(ctx context.Context, key string) {
		// The scoped key holds the idempotency key (and the route's scope).
		var rk []byte
		if err := s.pool.QueryRow(ctx, `DELETE FROM idempg_records WHERE state = 1 AND position(convert_to($1, 'UTF8') in key) > 0 RETURNING key`, key).Scan(&rk); err != nil {
			t.Errorf("deleting the claim: %v", err)
			return
		}
		if _, err := s.store.Begin(ctx, string(rk), core.Attempt{Nonce: 9, Lease: time.Minute, TTL: time.Minute}); err != nil {
			t.Errorf("the other claim: %v", err)
		}
	}
	r := s.post(t, "/payments/"+id, key)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, string(core.ProblemNotCommitted)) {
		t.Fatalf("reply = %d %s, want 503 not-committed", r.status, r.body)
	}
	if r.header.Get("Location") != "" {
		t.Fatalf("the handler's Location reached the client: %v", r.header)
	}
	if n := s.paid(t, id); n != 0 {
		t.Fatalf("payments = %d, want 0", n)
	}
}

func TestGinHandlerWithoutTx(t *testing.T) {
	s := newServer(t)
	id, key := ids()
	for i, want := range []string{"Original", "Repeated"} {
		r := s.post(t, "/payments/"+id+"?tx=0", key)
		if r.status != http.StatusCreated || r.header.Get("Idempotency-Status") != want {
			t.Fatalf("request %d = %d %v %s", i+1, r.status, r.header, r.body)
		}
	}
	if s.runs.Load() != 1 || s.paid(t, id) != 0 {
		t.Fatalf("runs %d, payments %d; want 1 and 0", s.runs.Load(), s.paid(t, id))
	}
}
