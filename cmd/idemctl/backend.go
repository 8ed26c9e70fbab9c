package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/idemkit/idempotency/core"
)

// backend is the store idemctl works on: Redis (redis.go) or the
// PostgreSQL store (postgres.go). Every command reads and writes records
// through it, and the Engine that verifies and seals records (seal.go)
// runs on its core.Store, so a command behaves the same on either.
type backend interface {
	// coreStore is the store as the Engine sees it: Get, Resolve, Delete.
	coreStore() core.Store
	// ref names the record of key in scope in the store.
	ref(scope, key string) recordRef
	// inspectRaw reads the record of key in scope, unverified.
	inspectRaw(ctx context.Context, scope, key string, full bool) (*inspection, error)
	// flush deletes the record of key in scope and says what it was.
	flush(ctx context.Context, scope, key string) (*flushResult, error)
	// stats counts the store's records.
	stats(ctx context.Context) (report, error)
	Close() error
}

// report is what stats prints: a JSON-able value that prints itself.
type report interface {
	print(w io.Writer)
}

var (
	_ backend = (*conn)(nil)
	_ backend = (*pgConn)(nil)
)

// connect opens the store of -redis or -postgres (see choose).
func (g *globals) connect() (backend, error) { return g.connectWith(false) }

// connectOnce connects with a client that never resends a command (go-redis
// resends one whose reply timed out; pgx never resends a statement), for
// commands whose resend would answer differently.
func (g *globals) connectOnce() (backend, error) { return g.connectWith(true) }

func (g *globals) connectWith(once bool) (backend, error) {
	kind, url, err := g.choose()
	if err != nil {
		return nil, err
	}
	if kind == storePostgres {
		return newPostgres(url, g.tablePrefix)
	}
	return connectRedis(url, g.prefix, g.timeout, once)
}

// recordRef names where a record lives: its Redis key, or its PostgreSQL
// table and the row's key, as psql writes a bytea ('\x...'), so that an
// operator can find the row: SELECT * FROM idempg_records WHERE key = '\x...'.
type recordRef struct {
	RedisKey string `json:"redis_key,omitempty"`
	Table    string `json:"table,omitempty"`
	RowKey   string `json:"row_key,omitempty"`
}

// name is the record's name in messages. (Not String: the structs that
// embed a recordRef would become Stringers, and print as their ref only.)
func (r recordRef) name() string {
	if r.Table != "" {
		return fmt.Sprintf("%s key '%s'", r.Table, r.RowKey)
	}
	return r.RedisKey
}

// print writes the ref's lines of inspect's table.
func (r recordRef) printRef(tw *tabwriter.Writer) {
	if r.Table != "" {
		fmt.Fprintf(tw, "table\t%s\n", r.Table)
		fmt.Fprintf(tw, "row key\t%s\n", r.RowKey)
		return
	}
	fmt.Fprintf(tw, "redis key\t%s\n", r.RedisKey)
}

// describePayload fills in what in's payload says, as inspect shows it
// before verification: the seal's key id (the contents of a sealed
// payload are shown once verified), the reason of a tombstone or an
// uncertain record, or the decoded response of a completed one.
func describePayload(in *inspection, state core.State, payload []byte, hasPayload, full bool) {
	in.PayloadBytes = len(payload)
	in.SealKeyID, in.Encrypted, in.Sealed = core.SealInfo(payload)
	switch {
	case !hasPayload:
	case in.Sealed:
		// Opaque without the ring, and unverified: shown once verified.
	case state == core.StateTombstone || state == core.StateUncertain:
		reason := string(payload)
		in.Reason = &reason
	case state == core.StateCompleted:
		resp, err := core.BinarySerializer{}.Decode(payload)
		if err != nil {
			in.DecodeError = err.Error() + " (was the engine configured with another serializer?)"
		} else {
			in.Response = newResponse(&resp, full)
		}
	}
}
