package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	idempg "github.com/idemkit/idempotency/storage/postgres"
	idemredis "github.com/idemkit/idempotency/storage/redis"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitNotFound = 3
	// exitNotResolvable: resolve found a record that is not a tombstone,
	// an uncertain record or a stranded claim.
	exitNotResolvable = 4
	// exitUnverified (5, seal.go): the record does not verify under
	// -signing-key.
)

// defaultRedisURL is used when no store is given (no -redis, -postgres,
// $REDIS_URL nor $DATABASE_URL).
const defaultRedisURL = "redis://localhost:6379/0"

// Environment variables of the stores' URLs.
const (
	envRedisURL    = "REDIS_URL"
	envPostgresURL = "DATABASE_URL"
)

// globals are the flags every command takes, before or after its name.
type globals struct {
	// redisURL is -redis and postgresURL -postgres, when given (the
	// environment's are read by choose).
	redisURL    string
	redisSet    bool
	postgresURL string
	postgresSet bool
	// prefix is -prefix (Redis), tablePrefix -table-prefix (PostgreSQL);
	// each is refused with the other store.
	prefix         string
	prefixSet      bool
	tablePrefix    string
	tablePrefixSet bool
	timeout        time.Duration

	// signingKey is -signing-key (the record key ring), when given;
	// otherwise $IDEMKIT_SIGNING_KEY is used (see ring).
	signingKey    string
	signingKeySet bool
	// encrypt is -encrypt, when given; otherwise $IDEMKIT_ENCRYPT.
	encrypt    bool
	encryptSet bool
}

func (g *globals) register(fs *flag.FlagSet) {
	// -redis and -postgres have no default in the flag itself, so that -h
	// never prints a password from the environment; see choose.
	fs.Func("redis", "Redis `URL`: redis://, rediss://, unix://, or redis+cluster://host:port,host:port (default $"+envRedisURL+", then "+defaultRedisURL+" when no store is given)", func(s string) error {
		g.redisURL, g.redisSet = s, true
		return nil
	})
	fs.Func("postgres", "PostgreSQL `URL` of the idempg store: postgres://user:pass@host:port/db?sslmode=... or \"host=... dbname=...\" (default $"+envPostgresURL+"); excludes -redis", func(s string) error {
		g.postgresURL, g.postgresSet = s, true
		return nil
	})
	fs.Func("prefix", "key `prefix` of the Redis store (idemredis.WithPrefix) (default \""+idemredis.DefaultPrefix+"\")", func(s string) error {
		g.prefix, g.prefixSet = s, true
		return nil
	})
	fs.Func("table-prefix", "table `prefix` of the PostgreSQL store (idempg.WithTablePrefix) (default \""+idempg.DefaultTablePrefix+"\")", func(s string) error {
		g.tablePrefix, g.tablePrefixSet = s, true
		return nil
	})
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "give up after this `duration`, bounding every store call and the connections' dial, read and write timeouts (0: no limit)")
	// Neither has its default in the flag, so that -h never prints a
	// secret from the environment.
	fs.Func("signing-key", "the servers' record key `ring`, \"id:secret[,id:secret...]\" (hex or base64; core.ParseRecordKeys), to verify and decode signed or encrypted records (inspect) and sign a response (resolve -status) (default $"+envSigningKey+")", func(s string) error {
		g.signingKey, g.signingKeySet = s, true
		return nil
	})
	fs.BoolFunc("encrypt", "records are encrypted (core.WithRecordEncryption), as the servers' setting: resolve encrypts the response, and records in clear do not verify (default $"+envEncrypt+")", func(s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		g.encrypt, g.encryptSet = b, true
		return nil
	})
}

// Store kinds (choose).
const (
	storeRedis    = "redis"
	storePostgres = "postgres"
)

// choose returns the store to work on and its URL: -redis or -postgres
// (not both); without either, $REDIS_URL or $DATABASE_URL (not both);
// without any, defaultRedisURL. Options of the other store are refused,
// so that a command never runs on a store the operator did not mean.
func (g *globals) choose() (kind, url string, err error) {
	switch {
	case g.redisSet && g.postgresSet:
		return "", "", errors.New("-redis and -postgres exclude each other: choose one store")
	case g.redisSet:
		kind, url = storeRedis, g.redisURL
	case g.postgresSet:
		kind, url = storePostgres, g.postgresURL
	default:
		r, p := os.Getenv(envRedisURL), os.Getenv(envPostgresURL)
		switch {
		case r != "" && p != "":
			return "", "", fmt.Errorf("both $%s and $%s are set: choose the store with -redis or -postgres", envRedisURL, envPostgresURL)
		case p != "":
			kind, url = storePostgres, p
		case r != "":
			kind, url = storeRedis, r
		default:
			kind, url = storeRedis, defaultRedisURL
		}
	}
	switch {
	case kind == storeRedis && g.tablePrefixSet:
		return "", "", errors.New("-table-prefix is an option of the PostgreSQL store (-postgres), not of Redis")
	case kind == storePostgres && g.prefixSet:
		return "", "", errors.New("-prefix is an option of the Redis store (-redis); the PostgreSQL store's is -table-prefix")
	}
	return kind, url, nil
}

// commands are the subcommands.
var commands = map[string]func(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) int{
	"inspect": runInspect,
	"flush":   runFlush,
	"stats":   runStats,
	"resolve": runResolve,
}

// summaries describe the commands in the usage.
var summaries = map[string]string{
	"inspect": "show one record: state (committed, stranded), fingerprint, lease, TTL, the key that sealed it, and the stored response or the reason (of a sealed record: verified with -signing-key)",
	"flush":   "delete one record, so that the next request with its key runs afresh",
	"stats":   "count the records: in flight, completed, tombstone, uncertain; on Redis (under the prefix) also committed, stranded, unknown format, payload bytes, cooldowns; on PostgreSQL expired rows",
	"resolve": "settle a tombstone, an uncertain record or a stranded claim: release it (-release), or complete it with a response (-status, -body, -header; signed with -signing-key) that retries replay",
}

// quietOnce installs quietLogger once per process: go-redis's logger is a
// global that its background dials (which may outlive a command that
// gave up) read without a lock.
var quietOnce sync.Once

// run is the whole program, testable: it parses args (without the program
// name) and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{prefix: idemredis.DefaultPrefix, tablePrefix: idempg.DefaultTablePrefix}
	quietOnce.Do(func() { redis.SetLogger(quietLogger{}) })
	fs := flag.NewFlagSet("idemctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		usage(stderr, fs)
		return exitUsage
	}
	name := fs.Arg(0)
	if name == "help" {
		usage(stdout, fs)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "idemctl: unknown command %q\n\n", name)
		usage(stderr, fs)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return cmd(ctx, g, fs.Args()[1:], stdout, stderr)
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: idemctl [global flags] <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, summaries[n])
	}
	fmt.Fprintf(w, "\nglobal flags (also accepted after the command):\n")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
	fmt.Fprintf(w, "\nRun 'idemctl <command> -h' for the command's flags.\n"+
		"Exit status: 0 success, 1 failure, 2 usage error, 3 inspect or resolve found no record,\n"+
		"4 resolve found a record it cannot resolve, 5 inspect or resolve found a record that does not\n"+
		"verify under -signing-key (the servers refuse it).\n")
}

// subcommand parses a command's flags, the global ones included. It
// returns false (and the exit status) when the program should stop.
func subcommand(name, synopsis string, g *globals, args []string, stderr io.Writer, define func(fs *flag.FlagSet)) (bool, int) {
	fs := flag.NewFlagSet("idemctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	define(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: idemctl %s %s\n\n%s\n\nflags:\n", name, synopsis, summaries[name])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, exitOK
		}
		return false, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "idemctl %s: unexpected argument %q\n", name, fs.Arg(0))
		fs.Usage()
		return false, exitUsage
	}
	if _, _, err := g.choose(); err != nil {
		fmt.Fprintf(stderr, "idemctl %s: %v\n", name, err)
		return false, exitUsage
	}
	return true, exitOK
}

// withTimeout applies -timeout to ctx. Both stores' clients honour the
// deadline (see newClient, newPostgres), so it bounds the whole command.
func (g *globals) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.timeout > 0 {
		return context.WithTimeout(ctx, g.timeout)
	}
	return context.WithCancel(ctx)
}

func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "idemctl %s: %v\n", name, err)
	return exitFailure
}

// storeErr names the store's server (without its password) in an error
// from it, and says when the command gave up because -timeout ran out
// (ctx is the command's context, from withTimeout).
func (g *globals) storeErr(ctx context.Context, err error) error {
	kind, url, cerr := g.choose()
	if cerr != nil { // checked by subcommand already
		return err
	}
	where := kind + " " + redactURL(url)
	if kind == storePostgres {
		where = "postgres " + redactPostgres(url)
	}
	if g.timeout > 0 && timedOut(ctx) {
		return fmt.Errorf("%s: no answer within -timeout %v: %w", where, g.timeout, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// timedOut reports whether ctx's deadline has passed. It reads the clock
// rather than only ctx.Err(), because a socket deadline set to the same
// instant can fire before the context's timer does.
func timedOut(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
