package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// pgConn is an open pool on the PostgreSQL store's database. Every
// command goes through the idempg.Store (Get, Delete, Resolve, Stats) and
// the Engine on it, never through SQL of its own: records read, verified,
// flushed and resolved exactly as the servers' store does it.
type pgConn struct {
	pool   *pgxpool.Pool
	store  *idempg.Store
	prefix string
}

// newPostgres opens a pool on url (a postgres:// URL or a "key=value"
// string, as pgx reads them) and the idempg store with table prefix. It
// does no I/O: the first command connects. pgx honours the command's
// context (-timeout) in every call, its dial included, so the deadline
// bounds the connect timeout of the URL too (TestPostgresTimeoutStalled).
// pgx never resends a statement, so a resolve whose reply is lost is not
// run twice.
func newPostgres(url, prefix string) (*pgConn, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL URL %q: %s", redactPostgres(url), redactPostgres(err.Error()))
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", redactPostgres(url), err)
	}
	store, err := idempg.New(pool, idempg.WithTablePrefix(prefix))
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &pgConn{pool: pool, store: store, prefix: prefix}, nil
}

func (c *pgConn) Close() error {
	err := c.store.Close()
	c.pool.Close()
	return err
}

func (c *pgConn) coreStore() core.Store { return c.store }

// ref names the record's row: its table and its key, the scoped key's
// bytes, as psql writes a bytea.
func (c *pgConn) ref(scope, key string) recordRef {
	return recordRef{Table: c.prefix + "records", RowKey: `\x` + hex.EncodeToString([]byte(core.StoreKey(scope, key)))}
}

// inspectRaw reads the record with the store's Get. A record of a format
// the store does not know (core.ErrCorruptRecord) is reported as there,
// of an unknown format, without its fields: Get does not return them.
// Lease and TTL are measured against this machine's clock (the store's
// times come from the database server's).
func (c *pgConn) inspectRaw(ctx context.Context, scope, key string, full bool) (*inspection, error) {
	in := &inspection{Scope: scope, Key: key, recordRef: c.ref(scope, key)}
	rec, err := c.store.Get(ctx, core.StoreKey(scope, key))
	switch {
	case errors.Is(err, core.ErrNotFound):
		return in, nil
	case err != nil && !errors.Is(err, core.ErrCorruptRecord):
		return nil, c.hint(err)
	case errors.Is(err, core.ErrCorruptRecord):
		in.Found, in.State = true, core.State(0).String()
		in.FormatError = strings.TrimPrefix(err.Error(), core.ErrCorruptRecord.Error()+": ")
		return in, nil
	}
	now := time.Now()
	in.Found = true
	in.Version, in.KnownVersion = strconv.Itoa(idempg.FormatVersion), true
	in.State = rec.State.String()
	in.Fingerprint = rec.Fingerprint.String()
	in.Token = rec.Token
	in.TTLMS = max(rec.ExpiresAt.Sub(now).Milliseconds(), 0)
	if rec.State == core.StateInFlight && !rec.LeaseUntil.IsZero() {
		end := rec.LeaseUntil
		left := end.Sub(now).Milliseconds()
		in.LeaseEnd, in.LeaseLeftMS = &end, &left
		if rec.Committed {
			in.Committed = true
			in.Stranded = left <= 0
		}
	}
	in.Resolvable = rec.State == core.StateTombstone || rec.State == core.StateUncertain || in.Stranded
	describePayload(in, rec.State, rec.Payload, rec.Payload != nil, full)
	return in, nil
}

// flush deletes the record with the store's Delete and reports the state
// Get read just before. The two are separate statements: a request that
// claims the key between them has its claim deleted too (as a flush a
// moment later would), reported as the state read before, or as no
// record.
func (c *pgConn) flush(ctx context.Context, scope, key string) (*flushResult, error) {
	res := &flushResult{Scope: scope, Key: key, recordRef: c.ref(scope, key)}
	sk := core.StoreKey(scope, key)
	rec, err := c.store.Get(ctx, sk)
	switch {
	case errors.Is(err, core.ErrNotFound):
	case errors.Is(err, core.ErrCorruptRecord):
		res.Existed, res.State = true, core.State(0).String()
	case err != nil:
		return nil, c.hint(err)
	default:
		res.Existed, res.State = true, rec.State.String()
	}
	if err := c.store.Delete(ctx, sk); err != nil {
		return nil, c.hint(err)
	}
	return res, nil
}

// pgStatistics is what stats reports on PostgreSQL (and its -json form):
// idempg.Store.Stats, one statement over the table.
type pgStatistics struct {
	TablePrefix string `json:"table_prefix"`
	// Records counts the live records: InFlight + Completed + Tombstone +
	// Uncertain (a record of an unknown format is counted by its state).
	Records   int64 `json:"records"`
	InFlight  int64 `json:"in_flight"`
	Completed int64 `json:"completed"`
	// Tombstone and Uncertain wait for an operator (idemctl resolve) or
	// their TTL.
	Tombstone int64 `json:"tombstone"`
	Uncertain int64 `json:"uncertain"`
	// Expired counts the rows past their expiry: absent to every call,
	// they only take space until idempg's Purge deletes them.
	Expired int64 `json:"expired"`
}

func (c *pgConn) stats(ctx context.Context) (report, error) {
	st, err := c.store.Stats(ctx)
	if err != nil {
		return nil, c.hint(err)
	}
	return &pgStatistics{
		TablePrefix: c.prefix,
		Records:     st.InFlight + st.Completed + st.Tombstones + st.Uncertain,
		InFlight:    st.InFlight, Completed: st.Completed, Tombstone: st.Tombstones, Uncertain: st.Uncertain,
		Expired: st.Expired,
	}, nil
}

func (st *pgStatistics) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "table\t%s\n", st.TablePrefix+"records")
	fmt.Fprintf(tw, "records\t%d\n", st.Records)
	fmt.Fprintf(tw, "  in flight\t%d\n", st.InFlight)
	fmt.Fprintf(tw, "  completed\t%d\n", st.Completed)
	fmt.Fprintf(tw, "  tombstone\t%d\n", st.Tombstone)
	fmt.Fprintf(tw, "  uncertain\t%d\n", st.Uncertain)
	fmt.Fprintf(tw, "expired\t%d\t(absent to every call; idempg's Purge deletes them)\n", st.Expired)
}

// hint adds to err, when the store's table or functions are missing,
// that this is not an idempg schema of c's table prefix: the first thing
// to check is -table-prefix (or the database, or whether Migrate ran).
func (c *pgConn) hint(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42883") { // undefined_table, undefined_function
		return fmt.Errorf("%w (no idempg schema with table prefix %q in this database: check -table-prefix, or run idempg.Migrate)", err, c.prefix)
	}
	return err
}

// pgPassword matches a password in a "key=value" connection string or a
// URL's query.
var pgPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)`)

// redactPostgres hides the passwords of a PostgreSQL URL or connection
// string (in its user info, its query, or a password=... pair) in s.
func redactPostgres(s string) string {
	return pgPassword.ReplaceAllString(redactURL(s), "${1}xxxxx")
}
