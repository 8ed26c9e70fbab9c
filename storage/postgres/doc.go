// Package idempg is the PostgreSQL store of idemkit, on pgx v5 (pgxpool).
//
//	pool, _ := pgxpool.New(ctx, "postgres://app@db/app")
//	if err := idempg.Migrate(ctx, pool); err != nil { ... } // at deployment, never per request
//	store, _ := idempg.New(pool)
//	defer store.Close()
//	r.Use(idemgin.New(core.WithStore(store)))
//
// Records live in one table (idempg_records by default, WithTablePrefix),
// keyed by the scoped key. Begin is one statement, a PL/pgSQL function:
// a replay is one index lookup that writes nothing, a first request one
// INSERT. Complete, Release and Resolve are one function call each,
// Renew, RenewBatch and Commit one UPDATE each: every store call is one
// round trip. Times come from the database server (clock_timestamp()),
// so instances with skewed clocks agree on when a lease ends; fencing
// tokens come from one sequence and never repeat.
package idempg
