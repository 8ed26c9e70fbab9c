// Package idempg is the PostgreSQL store of idemkit, on pgx v5 (pgxpool),
// tested on PostgreSQL 15.
//
//	pool, err := pgxpool.New(ctx, "postgres://app@db/app")
//	...
//	if err := idempg.Migrate(ctx, pool); err != nil { ... } // at deployment, never per request
//	store, err := idempg.New(pool, idempg.WithPurgeInterval(time.Minute, 0))
//	...
//	defer store.Close()
//	r.Use(idemgin.New(core.WithStore(store)))
//
// # Records and statements
//
// Records live in one table (idempg_records; WithTablePrefix changes the
// prefix of every object), keyed by the scoped key's bytes. Begin is one
// statement, a PL/pgSQL function: a replay is one primary-key lookup that
// writes nothing, a first request one INSERT; only a duplicate of a claim
// in flight, a takeover or a stranded claim lock the row. Complete,
// Release and Resolve are one function call each; Renew, RenewBatch and
// Commit one UPDATE each: every store call is one round trip (pgx
// prepares each statement once per connection, which costs one more the
// first time). Times come from the database server (clock_timestamp()),
// so instances with skewed clocks agree on when a lease ends; fencing
// tokens come from one sequence and never repeat, even for a key deleted
// and claimed again. An expired record is absent to every call, whether
// or not Purge has deleted it yet. A record of a format version this code
// does not know is never replayed or overwritten: its requests fail
// closed until it expires.
//
// Migrate creates the schema; New never does, and a store whose tables
// are missing fails every call (core.ErrStoreUnavailable).
//
// # Transactional completion
//
// The store is a core.TxStore. Its claims are made in short transactions
// of their own, as with any store; but a handler may also write its
// business rows in the claim's transaction, which Tx returns:
//
//	func pay(c *gin.Context) {
//		ctx := c.Request.Context()
//		tx, err := idempg.Tx(ctx)
//		if err != nil { ... } // idempg.ErrNoTx: no idempotency key on this request
//		if _, err := tx.Exec(ctx, `INSERT INTO payments ...`, ...); err != nil { ... }
//		c.JSON(http.StatusCreated, ...) // held until the commit
//	}
//
// The Engine then writes the completed record in that same transaction,
// fenced by the claim's token, and commits: the business rows and the
// record commit together or not at all. A handler that crashes before
// the commit leaves neither (a retry after the lease runs afresh); one
// whose lease was lost and taken over is refused at the fence
// (core.ErrLeaseLost) and its rows are rolled back; a handler that fails
// or panics is rolled back and its claim released. The response is held
// until the commit (core.HoldResponse), so a client never sees a success
// whose rows were rolled back. A handler whose only effects are in the
// transaction need not call core.DeclareEffects: atomicity does its job.
// A handler that never calls Tx works as with any store.
//
// The transaction is begun on the first Tx, READ COMMITTED, and ended by
// the Engine: its Commit and Rollback return ErrTxOwned (savepoints, Begin
// on it, are the handler's own). READ COMMITTED is enough, and no stricter
// level is needed for the record: the completion locks the record's row
// (waiting for a Begin that holds it, then re-reading its newest version)
// and checks the token, and the lock is held to COMMIT, so no takeover can
// slip between the check and the commit. The handler's own rows get READ
// COMMITTED's usual guarantees; a handler that needs more locks them
// (SELECT ... FOR UPDATE) or uses constraints.
//
// # Sizing the pool
//
// A handler that uses Tx holds one of the pool's connections from its
// first Tx until the Engine commits, while its claim's renewals, other
// requests' Begins and the duplicates' polls need connections too. Give
// the pool more connections than handlers that may hold a transaction at
// once (pgxpool's MaxConns; by default the larger of 4 and the number of
// CPUs), and give renewals their own small pool with WithRenewPool (2
// connections): a renewal that waits for a connection behind busy handlers
// loses its lease, and then the handler's completion is refused; Commit
// (core.DeclareEffects, called by a handler that may hold a transaction)
// uses that pool too. With N
// concurrent transactional handlers and the default Engine, MaxConns of
// N + 4 and a renewal pool of 2 are a good start; watch pgxpool's Stat
// (EmptyAcquireCount, AcquireDuration).
//
// # Purging
//
// Expired records stay in the table until deleted: they take space, not
// correctness. Purge deletes them in bounded batches (each its own short
// statement, skipping rows a Begin holds); WithPurgeInterval runs it in
// the background. With several instances, each may purge: batches skip
// each other's rows.
//
// # Waiting duplicates
//
// The store is a core.Notifier: a duplicate waiting for a claim in flight
// is woken by a NOTIFY on the store's channel when the claim ends (sent
// only for claims a duplicate found in flight; inside a handler's
// transaction, at its commit). The store listens on one connection of its
// own (outside the pool), opened by the first wait; Close ends it.
package idempg
