package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
	idemredis "github.com/idemkit/idempotency/storage/redis"
)

// ErrRedisURL wraps every error about a malformed -redis / REDIS_URL.
// Servers exit with status 2 on it, as for a bad flag.
var ErrRedisURL = errors.New("invalid Redis URL")

// ErrRedisUnreachable wraps the error of the start-up ping. Servers exit
// with status 1 on it rather than falling back to the in-memory store,
// which would silently lose idempotency across instances.
var ErrRedisUnreachable = errors.New("redis unreachable")

// PingTimeout bounds the start-up check that Redis answers.
const PingTimeout = 3 * time.Second

// The URL schemes OpenStore accepts besides go-redis's own (redis://,
// rediss://, unix://): a comma-separated list of cluster nodes.
const (
	clusterScheme    = "redis+cluster://"
	clusterTLSScheme = "rediss+cluster://"
)

// OpenStore returns the store cfg asks for, which every route of a server
// shares, and a func that releases it. With cfg.PostgresURL it is
// OpenPostgres's store (Main uses OpenPostgres itself, for the shop's
// ledger too).
//
// Without a Redis URL it is a fresh in-memory store per call (not
// memory.Default), so that servers started in one process, as the demo
// does, never see each other's keys, bounded by cfg.MemoryMaxEntries and
// cfg.MemoryMaxBytes when set.
//
// With one, it is idemredis on a go-redis client built from the URL:
//
//	redis://[[user]:password@]host[:port][/db][?dial_timeout=1s&...]
//	rediss://...                      (TLS)
//	redis+cluster://[[user]:password@]host:port,host:port[?...]
//	rediss+cluster://...              (TLS)
//
// The query takes go-redis's options in snake case (see redis.ParseURL
// and redis.ParseClusterURL). The client honours context deadlines
// (go-redis's ContextTimeoutEnabled, off by default there): a store call
// ends at its request's deadline even when Redis stops answering,
// however long the URL's read_timeout. OpenStore pings Redis, bounded by ctx and
// PingTimeout, so that an unreachable Redis stops the server at start-up
// with ErrRedisUnreachable instead of failing its first requests; once
// running, a Redis outage is answered with 503 and the same client
// reconnects when Redis is back.
func OpenStore(ctx context.Context, cfg Config) (core.Store, func() error, error) {
	if cfg.PostgresURL != "" {
		pg, err := OpenPostgres(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, nil, err
		}
		return pg.Store, pg.Close, nil
	}
	if cfg.RedisURL == "" {
		return memory.New(memory.WithMaxEntries(cfg.MemoryMaxEntries), memory.WithMaxBytes(cfg.MemoryMaxBytes)),
			func() error { return nil }, nil
	}
	rdb, err := NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, err
	}
	store := idemredis.New(rdb)
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	err = rdb.Ping(pctx).Err()
	if err == nil {
		// Optional: saves the first requests an EVALSHA miss.
		err = store.LoadScripts(pctx)
	}
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("%w at %s: %w (start redis-server, or unset -redis and REDIS_URL to use the in-memory store)",
			ErrRedisUnreachable, RedactURL(cfg.RedisURL), err)
	}
	return store, rdb.Close, nil
}

// NewRedisClient returns a go-redis client for rawURL (see OpenStore for
// the forms): a *redis.Client, or a *redis.ClusterClient for the
// +cluster schemes, with ContextTimeoutEnabled (see setsContextTimeout).
// Errors wrap ErrRedisURL and never contain the password.
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	bad := func(err error) error {
		return fmt.Errorf("%w %s: %w", ErrRedisURL, RedactURL(rawURL), redactErr(err, rawURL))
	}
	lower := strings.ToLower(rawURL)
	switch {
	case strings.HasPrefix(lower, clusterScheme), strings.HasPrefix(lower, clusterTLSScheme):
		u, err := clusterURL(rawURL)
		if err != nil {
			return nil, bad(err)
		}
		opts, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, bad(err)
		}
		if !setsContextTimeout(rawURL) {
			opts.ContextTimeoutEnabled = true
		}
		return redis.NewClusterClient(opts), nil
	case strings.HasPrefix(lower, "redis://"), strings.HasPrefix(lower, "rediss://"), strings.HasPrefix(lower, "unix://"):
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, bad(err)
		}
		if !setsContextTimeout(rawURL) {
			opts.ContextTimeoutEnabled = true
		}
		return redis.NewClient(opts), nil
	default:
		return nil, bad(errors.New("the scheme must be redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://"))
	}
}

// contextTimeoutOption is the query option go-redis's failover URLs use
// for ContextTimeoutEnabled. Its ParseURL and ParseClusterURL (v9.22.0)
// do not know it and reject a URL that has it.
const contextTimeoutOption = "context_timeout_enabled"

// setsContextTimeout reports whether rawURL's query sets
// context_timeout_enabled itself. NewRedisClient then leaves the choice
// to go-redis's parser (today an "unexpected option" error; the URL's
// value once go-redis reads it); otherwise it turns ContextTimeoutEnabled
// on.
func setsContextTimeout(rawURL string) bool {
	_, query, _ := strings.Cut(rawURL, "?")
	q, err := url.ParseQuery(query)
	return err == nil && q.Has(contextTimeoutOption)
}

// clusterURL turns redis+cluster://[auth@]h1:p1,h2:p2[/][?q] into the form
// redis.ParseClusterURL reads: redis://[auth@]h1:p1?q&addr=h2:p2.
func clusterURL(raw string) (string, error) {
	i := strings.Index(raw, "://")
	scheme, rest := strings.ToLower(raw[:i]), raw[i+3:]
	scheme = strings.TrimSuffix(scheme, "+cluster")
	rest, query, _ := strings.Cut(rest, "?")
	var auth string
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		auth, rest = rest[:at+1], rest[at+1:]
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.Contains(rest, "/") {
		return "", errors.New("a cluster URL has no database number: redis+cluster://host1:6379,host2:6379")
	}
	var nodes []string
	for _, n := range strings.Split(rest, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(n); err != nil || host == "" || port == "" {
			return "", fmt.Errorf("cluster node %q is not host:port", n)
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return "", errors.New("no cluster nodes: redis+cluster://host1:6379,host2:6379")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", err
	}
	for _, n := range nodes[1:] {
		q.Add("addr", n)
	}
	u := scheme + "://" + auth + nodes[0]
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return u, nil
}

// RedactURL returns rawURL with its password, if any, replaced by
// "xxxxx", for logs and error messages.
func RedactURL(rawURL string) string {
	rest, query, hasQuery := strings.Cut(rawURL, "?")
	i := strings.Index(rest, "://")
	if i < 0 {
		return "(unparsable URL)"
	}
	at := strings.LastIndexByte(rest, '@')
	if at > i {
		userinfo := rest[i+3 : at]
		if user, _, ok := strings.Cut(userinfo, ":"); ok {
			rest = rest[:i+3] + user + ":xxxxx" + rest[at:]
		}
	}
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err == nil && q.Has("password") {
			q.Set("password", "xxxxx")
			query = q.Encode()
		}
		rest += "?" + query
	}
	return rest
}

// redactErr keeps a parser's error message from repeating the password
// (url.Parse quotes the whole URL).
func redactErr(err error, rawURL string) error {
	msg := err.Error()
	if red := RedactURL(rawURL); red != rawURL && strings.Contains(msg, rawURL) {
		return errors.New(strings.ReplaceAll(msg, rawURL, red))
	}
	return err
}

// Describe returns a short description of the store cfg selects, for the
// start-up log line. It never contains a password.
func Describe(cfg Config) string {
	if cfg.RedisURL != "" {
		return "redis " + RedactURL(cfg.RedisURL) + " (shared by every instance)"
	}
	if cfg.PostgresURL != "" {
		return "postgres " + RedactURL(cfg.PostgresURL) + " (shared by every instance; payments written in the claim's transaction)"
	}
	d := "memory (single process only)"
	if cfg.MemoryMaxEntries > 0 {
		d += fmt.Sprintf(", at most %d records", cfg.MemoryMaxEntries)
	}
	if cfg.MemoryMaxBytes > 0 {
		d += fmt.Sprintf(", at most %d bytes", cfg.MemoryMaxBytes)
	}
	return d
}
