// Command idemctl inspects and manages idemkit's idempotency records in
// Redis.
//
//	idemctl [-redis URL] [-prefix P] [-timeout D] <command> [flags]
//
//	idemctl inspect -scope 'user_route:alice|POST /payments' -key 4b9f0c2e-…
//	idemctl flush   -scope 'user_route:alice|POST /payments' -key 4b9f0c2e-…
//	idemctl stats   [-json]
//
// -redis defaults to $REDIS_URL, then redis://localhost:6379/0; a cluster
// is given as redis+cluster://host:port,host:port. -prefix is the
// store's idemredis.WithPrefix (default "idem:"). Scopes are the strings
// core.ScopeString builds. -timeout bounds the whole command: every
// Redis call runs under its deadline, and the client's dial, read and
// write timeouts are capped at it (default 0: no limit beyond go-redis's
// own timeouts).
//
// Exit status: 0 success, 1 failure, 2 usage error, 3 inspect found no
// record.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
