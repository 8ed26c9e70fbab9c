// Command idemctl inspects and manages idemkit's idempotency records in
// Redis or in the PostgreSQL store (idempg).
//
//	idemctl [-redis URL [-prefix P] | -postgres URL [-table-prefix P]] [-timeout D] [-signing-key RING [-encrypt]] <command> [flags]
//
//	idemctl inspect -scope 'user_route:alice|POST /payments' -key 4b9f0c2e-…
//	idemctl flush   -scope 'user_route:alice|POST /payments' -key 4b9f0c2e-…
//	idemctl stats   [-json]
//	idemctl resolve -scope 'user_route:alice|POST /payments' -key 4b9f0c2e-… -release
//	idemctl resolve -scope 'user_route:alice|POST /payments' -key 4b9f0c2e-… \
//		-status 201 -header 'Content-Type: application/json' -body @response.json
//
// resolve settles a key that waits for an operator: a tombstone (the
// handler ran but its response was not stored), an uncertain record (the
// handler failed after declaring irreversible effects) or a stranded
// claim (its owner died after declaring them). -release deletes the
// record, so that the next request runs afresh; -status completes it with
// a response, encoded as the Engine encodes its own (core.BinarySerializer),
// and sealed under -signing-key, which retries with the same payload then
// replay. Find out first what the operation did downstream.
//
// The store is -redis URL or -postgres URL, never both. Without either
// flag, $REDIS_URL or $DATABASE_URL gives it (both set is a usage error:
// choose with a flag); without any, redis://localhost:6379/0. A Redis
// cluster is given as redis+cluster://host:port,host:port. -prefix is the
// Redis store's idemredis.WithPrefix (default "idem:"); -table-prefix the
// PostgreSQL store's idempg.WithTablePrefix (default "idempg_"); each is
// refused with the other store. On PostgreSQL every command goes through
// the idempg.Store (Get, Delete, Resolve, Stats) and the Engine on it,
// never SQL of its own, so records read, verify and resolve as the
// servers' store handles them. Scopes are the strings core.ScopeString
// builds. -timeout bounds the whole command: every store call runs under
// its deadline, and the client's dial (and Redis's read and write)
// timeouts are capped at it (default 0: no limit beyond the clients' own
// timeouts).
//
// Signed and encrypted records (core.WithRecordKeys,
// core.WithRecordEncryption): -signing-key takes the servers' key ring,
// "id:secret[,id:secret...]" as core.ParseRecordKeys reads it (default
// $IDEMKIT_SIGNING_KEY), and -encrypt their encryption setting (default
// $IDEMKIT_ENCRYPT). Without the ring, inspect names the key that sealed a
// record but shows none of its contents; with it, inspect verifies the
// record as the servers do (through an Engine on the same store) and
// shows the opened response or reason, or why it does not verify.
// resolve -status then seals the response through Engine.Resolve; without
// the ring it refuses to complete a signed record, which the servers
// would reject. -release needs no key. Secrets are never printed.
//
// Exit status: 0 success, 1 failure, 2 usage error, 3 inspect or resolve
// found no record, 4 resolve found a record it cannot resolve (a live
// claim, a completed record), 5 inspect or resolve found a record that
// does not verify under -signing-key (the servers refuse it with 503).
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
