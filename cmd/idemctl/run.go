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

// defaultRedisURL is used when neither -redis nor REDIS_URL is set.
const defaultRedisURL = "redis://localhost:6379/0"

// globals are the flags every command takes, before or after its name.
type globals struct {
	redisURL string
	prefix   string
	timeout  time.Duration

	// signingKey is -signing-key (the record key ring), when given;
	// otherwise $IDEMKIT_SIGNING_KEY is used (see ring).
	signingKey    string
	signingKeySet bool
	// encrypt is -encrypt, when given; otherwise $IDEMKIT_ENCRYPT.
	encrypt    bool
	encryptSet bool
}

func (g *globals) register(fs *flag.FlagSet) {
	// -redis has no default in the flag itself, so that -h never prints a
	// password from $REDIS_URL; see redisURLOrDefault.
	fs.Func("redis", "Redis `URL`: redis://, rediss://, unix://, or redis+cluster://host:port,host:port (default $REDIS_URL, then "+defaultRedisURL+")", func(s string) error {
		g.redisURL = s
		return nil
	})
	fs.StringVar(&g.prefix, "prefix", g.prefix, "key `prefix` of the store (idemredis.WithPrefix)")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "give up after this `duration`, bounding every Redis call and the dial, read and write timeouts (0: no limit)")
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

// url returns -redis, else $REDIS_URL, else defaultRedisURL.
func (g *globals) url() string {
	if g.redisURL != "" {
		return g.redisURL
	}
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return defaultRedisURL
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
	"stats":   "count the records under the prefix: in flight (committed, stranded), completed, tombstone, uncertain, unknown format, payload bytes, cooldowns",
	"resolve": "settle a tombstone, an uncertain record or a stranded claim: release it (-release), or complete it with a response (-status, -body, -header; signed with -signing-key) that retries replay",
}

// quietOnce installs quietLogger once per process: go-redis's logger is a
// global that its background dials (which may outlive a command that
// gave up) read without a lock.
var quietOnce sync.Once

// run is the whole program, testable: it parses args (without the program
// name) and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{prefix: idemredis.DefaultPrefix}
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
	return true, exitOK
}

// withTimeout applies -timeout to ctx. The Redis client honours the
// deadline (see newClient), so it bounds the whole command.
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

// redisErr names the server (without its password) in an error from it,
// and says when the command gave up because -timeout ran out (ctx is the
// command's context, from withTimeout).
func (g *globals) redisErr(ctx context.Context, err error) error {
	if g.timeout > 0 && timedOut(ctx) {
		return fmt.Errorf("redis %s: no answer within -timeout %v: %w", redactURL(g.url()), g.timeout, err)
	}
	return fmt.Errorf("redis %s: %w", redactURL(g.url()), err)
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
