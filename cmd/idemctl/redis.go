package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
)

// knownFormatVersion is the record format (hash field v) that idemredis
// writes and this tool understands.
const knownFormatVersion = idemredis.FormatVersion

// conn is an open connection to the store's Redis.
type conn struct {
	rdb    redis.UniversalClient
	store  *idemredis.Store
	prefix string
}

// connectRedis opens the Redis store at url; once disables go-redis's
// resends (see connectOnce).
func connectRedis(url, prefix string, timeout time.Duration, once bool) (*conn, error) {
	rdb, err := newClientWith(url, timeout, once)
	if err != nil {
		return nil, err
	}
	return &conn{rdb: rdb, store: idemredis.New(rdb, idemredis.WithPrefix(prefix)), prefix: prefix}, nil
}

func (c *conn) Close() error { return c.rdb.Close() }

func (c *conn) coreStore() core.Store { return c.store }

// recordKey is the Redis key of key in scope, as the Engine and the
// idemredis store write it.
func (c *conn) recordKey(scope, key string) string {
	return c.store.RecordKey(core.StoreKey(scope, key))
}

func (c *conn) ref(scope, key string) recordRef { return recordRef{RedisKey: c.recordKey(scope, key)} }

// newClient opens a client for a redis://, rediss:// or unix:// URL (see
// redis.ParseURL), or a cluster client for
// redis+cluster://[user:pass@]host:port,host:port[?options] (rediss+cluster
// for TLS; options as redis.ParseClusterURL takes them).
//
// The client honours context deadlines (ContextTimeoutEnabled), which
// go-redis otherwise ignores, so that -timeout, applied to every
// command's context, bounds every call. A positive timeout also caps the
// dial, read and write timeouts (from the URL or go-redis's defaults of
// seconds), so that no single network operation outlasts it either.
func newClient(raw string, timeout time.Duration) (redis.UniversalClient, error) {
	return newClientWith(raw, timeout, false)
}

// newClientWith is newClient; once disables go-redis's resending of a
// command after a network error or a timeout (MaxRetries -1).
func newClientWith(raw string, timeout time.Duration, once bool) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("invalid Redis URL %q: want redis://host:port/db or redis+cluster://host:port,host:port", redactURL(raw))
	}
	switch strings.ToLower(scheme) {
	case "redis+cluster", "rediss+cluster":
		opts, err := parseClusterURL(strings.TrimSuffix(strings.ToLower(scheme), "+cluster"), rest)
		if err != nil {
			return nil, err
		}
		opts.ContextTimeoutEnabled = true
		opts.DialTimeout = capTimeout(opts.DialTimeout, defaultDialTimeout, timeout)
		opts.ReadTimeout = capTimeout(opts.ReadTimeout, defaultReadTimeout, timeout)
		opts.WriteTimeout = capTimeout(opts.WriteTimeout, opts.ReadTimeout, timeout)
		if once {
			opts.MaxRetries = -1
		}
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid Redis URL %q: %w", redactURL(raw), err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = capTimeout(opts.DialTimeout, defaultDialTimeout, timeout)
	opts.ReadTimeout = capTimeout(opts.ReadTimeout, defaultReadTimeout, timeout)
	opts.WriteTimeout = capTimeout(opts.WriteTimeout, opts.ReadTimeout, timeout)
	if once {
		opts.MaxRetries = -1
	}
	return redis.NewClient(opts), nil
}

// go-redis's defaults for a zero DialTimeout and ReadTimeout (a zero
// WriteTimeout follows ReadTimeout), for both client kinds.
const (
	defaultDialTimeout = 5 * time.Second
	defaultReadTimeout = 5 * time.Second
)

// capTimeout returns the go-redis timeout set (0 meaning def, negative
// meaning none) capped at limit; set itself when limit is not positive.
func capTimeout(set, def, limit time.Duration) time.Duration {
	if limit <= 0 {
		return set
	}
	d := set
	if d == 0 {
		d = def
	}
	if d < 0 || d > limit {
		return limit
	}
	return d
}

// parseClusterURL turns "[user:pass@]h1:p1,h2:p2[/][?query]" into the
// form redis.ParseClusterURL reads: scheme://[user:pass@]h1:p1?addr=h2:p2.
func parseClusterURL(scheme, rest string) (*redis.ClusterOptions, error) {
	hostEnd := strings.IndexAny(rest, "/?")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	authority, tail := rest[:hostEnd], rest[hostEnd:]
	path, query, _ := strings.Cut(tail, "?")
	if path != "" && path != "/" && path != "/0" {
		return nil, fmt.Errorf("invalid cluster URL: Redis Cluster has only database 0, got path %q", path)
	}
	userinfo := ""
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
	}
	var hosts []string
	for _, h := range strings.Split(authority, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "6379")
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("invalid cluster URL: no host:port")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("invalid cluster URL query: %w", err)
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u := scheme + "://" + userinfo + hosts[0]
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	opts, err := redis.ParseClusterURL(u)
	if err != nil {
		return nil, fmt.Errorf("invalid cluster URL: %w", err)
	}
	return opts, nil
}

// redactURL hides a password in a URL shown in an error.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "xxxxx" + raw[i:]
		}
		return raw
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	if i := strings.LastIndex(rest[:end], "@"); i >= 0 {
		user, _, _ := strings.Cut(rest[:i], ":")
		return scheme + "://" + user + ":xxxxx@" + rest[i+1:]
	}
	return raw
}

// quietLogger drops go-redis's own log lines (dial retries and the
// like): idemctl reports the error that ends a command itself.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// forEachNode calls fn on every node that holds keys: the one server, or
// every master of a cluster (concurrently; fn must be safe for that).
func (c *conn) forEachNode(ctx context.Context, fn func(ctx context.Context, node *redis.Client) error) (nodes int, err error) {
	switch rdb := c.rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err = rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			mu.Lock()
			nodes++
			mu.Unlock()
			return fn(ctx, node)
		})
		return nodes, err
	case *redis.Client:
		return 1, fn(ctx, rdb)
	}
	return 0, fmt.Errorf("unsupported Redis client %T", c.rdb)
}

// serverTime is the Redis server's clock, which idemredis uses for lease
// ends; the local clock when TIME fails.
func serverTime(ctx context.Context, c redis.Cmdable) time.Time {
	if t, err := c.Time(ctx).Result(); err == nil {
		return t
	}
	return time.Now()
}

// globEscape quotes the glob metacharacters of s for SCAN MATCH.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
