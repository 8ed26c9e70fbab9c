package idempgtest

import (
	"context"
	"flag"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// TestAdapter runs the whole adapter conformance suite through Gin on the
// real PostgreSQL store, its transactional cases included: every test on
// tables of its own (a fresh table prefix), its business rows in a real
// table written in the claim's transaction.
func TestAdapter(t *testing.T) {
	if srv == nil {
		t.Skip("no PostgreSQL server (pgtest)")
	}
	cfg, err := pgxpool.ParseConfig(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	// The suite sends up to hundreds of requests at once; a handler under
	// a claim's transaction holds a connection for its whole run.
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	coretest.TestAdapter(t, coretest.Harness{
		Start:         startGin,
		HandlerErrors: true,
		Store:         func(t *testing.T) core.Store { return newPrefixedStore(t, pool, nextPrefix()) },
		Tx:            func(t *testing.T) coretest.TxBackend { return newPayments(t, pool) },
	})
	// The suite must have run on PostgreSQL, not on its memory default:
	// most tests wrote records to tables of their own (when it ran whole).
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return
	}
	used := 0
	for i := int64(1); i <= prefixes.Load(); i++ {
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM a%d_records`, i)
		if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			used++
		}
	}
	if used < 60 {
		t.Fatalf("records in %d of %d stores: the suite did not run on PostgreSQL", used, prefixes.Load())
	}
}

var prefixes atomic.Int64

// nextPrefix returns a table prefix no other test of this binary uses.
func nextPrefix() string { return fmt.Sprintf("a%d_", prefixes.Add(1)) }

func setupCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newPrefixedStore migrates the store's tables under prefix and returns
// the store, closed when the test ends.
func newPrefixedStore(t *testing.T, pool *pgxpool.Pool, prefix string) *idempg.Store {
	t.Helper()
	if err := idempg.Migrate(setupCtx(t), pool, idempg.WithTablePrefix(prefix)); err != nil {
		t.Fatal(err)
	}
	st, err := idempg.New(pool, idempg.WithTablePrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// payments is a coretest.TxBackend on the store: rows go to the table
// PREFIXpayments in the claim's transaction (idempg.Tx).
//
// FailNextCommit is a deferred constraint trigger: it fires at COMMIT,
// after the record was written in the transaction, and fails when a
// non-transactional counter (a sequence, which a rollback does not undo)
// reaches the value armed by FailNextCommit, so exactly the next commit
// with rows fails, and a rolled-back attempt consumes its turn.
type payments struct {
	pool   *pgxpool.Pool
	store  *idempg.Store
	prefix string
}

var _ coretest.TxBackend = (*payments)(nil)

func newPayments(t *testing.T, pool *pgxpool.Pool) *payments {
	t.Helper()
	p := &payments{pool: pool, prefix: nextPrefix()}
	p.store = newPrefixedStore(t, pool, p.prefix)
	_, err := pool.Exec(setupCtx(t), fmt.Sprintf(`
CREATE TABLE %[1]spayments (id bigserial PRIMARY KEY, row text NOT NULL);
CREATE SEQUENCE %[1]scommits;
CREATE TABLE %[1]sfail (at bigint);
INSERT INTO %[1]sfail VALUES (NULL);
CREATE FUNCTION %[1]sfail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('%[1]scommits') = (SELECT at FROM %[1]sfail) THEN
		RAISE EXCEPTION 'idempgtest: commit failed (FailNextCommit)';
	END IF;
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER %[1]sfail_commit AFTER INSERT ON %[1]spayments
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION %[1]sfail_commit();`, p.prefix))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *payments) Store() core.TxStore { return p.store }

// Insert implements coretest.TxBackend as a handler would: idempg.Tx
// begins the claim's transaction (holding the response), then the row.
func (p *payments) Insert(ctx context.Context, row string) error {
	tx, err := idempg.Tx(ctx)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+p.prefix+`payments (row) VALUES ($1)`, row)
	return err
}

func (p *payments) Rows(t *testing.T) []string {
	t.Helper()
	rows, err := p.pool.Query(setupCtx(t), `SELECT row FROM `+p.prefix+`payments ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (p *payments) FailNextCommit(t *testing.T) {
	t.Helper()
	if _, err := p.pool.Exec(setupCtx(t), fmt.Sprintf(`UPDATE %[1]sfail SET at = nextval('%[1]scommits') + 1`, p.prefix)); err != nil {
		t.Fatal(err)
	}
}
