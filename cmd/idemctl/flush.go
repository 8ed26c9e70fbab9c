package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
)

// flushResult is what flush reports (and its -json form).
type flushResult struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
	recordRef
	Existed bool `json:"existed"`
	// State is the state of the deleted record: in_flight, completed,
	// tombstone, uncertain or unknown.
	State string `json:"state,omitempty"`
}

func runFlush(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) int {
	var scope, key string
	var asJSON bool
	ok, code := subcommand("flush", "-scope S -key K [-json]", g, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&scope, "scope", "", "`scope` of the key, as core.ScopeString builds it (required)")
		fs.StringVar(&key, "key", "", "the idempotency `key` (required)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if !ok {
		return code
	}
	if scope == "" || key == "" {
		fmt.Fprintln(stderr, "idemctl flush: -scope and -key are required")
		return exitUsage
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	c, err := g.connect()
	if err != nil {
		return fail(stderr, "flush", err)
	}
	defer c.Close()

	res, err := c.flush(ctx, scope, key)
	if err != nil {
		return fail(stderr, "flush", g.storeErr(ctx, err))
	}
	if asJSON {
		if err := writeJSON(stdout, res); err != nil {
			return fail(stderr, "flush", err)
		}
		return exitOK
	}
	if res.Existed {
		fmt.Fprintf(stdout, "deleted %s record %s\n", res.State, res.name())
	} else {
		fmt.Fprintf(stdout, "no record %s: nothing to delete\n", res.name())
	}
	return exitOK
}

// flush deletes the record and reports what it was, atomically (MULTI on
// the record's one slot).
func (c *conn) flush(ctx context.Context, scope, key string) (*flushResult, error) {
	res := &flushResult{Scope: scope, Key: key, recordRef: c.ref(scope, key)}
	var fields *redis.SliceCmd
	var del *redis.IntCmd
	if _, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HMGet(ctx, res.RedisKey, "v", "s")
		del = p.Del(ctx, res.RedisKey)
		return nil
	}); err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
		return nil, err
	}
	if err := del.Err(); err != nil {
		return nil, err
	}
	res.Existed = del.Val() > 0
	if res.Existed {
		res.State = "unknown"
		if v := fields.Val(); len(v) == 2 {
			version, _ := v[0].(string)
			state, _ := v[1].(string)
			res.State = stateName(version, state).String()
		}
	}
	return res, nil
}
