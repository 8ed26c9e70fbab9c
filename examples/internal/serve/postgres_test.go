package serve

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// -postgres and DATABASE_URL select PostgreSQL; with Redis set as well,
// from a flag or the environment, the configuration is refused rather
// than one store silently chosen; an empty flag overrides its variable.
func TestParseFlagsPostgres(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvDatabaseURL, "postgres://env/db")
	cfg, err := ParseFlags("x", nil, io.Discard)
	if err != nil || cfg != (Config{Addr: DefaultAddr, PostgresURL: "postgres://env/db"}) {
		t.Errorf("DATABASE_URL: %+v, %v", cfg, err)
	}
	cfg, err = ParseFlags("x", []string{"-postgres", "postgres://flag/db"}, io.Discard)
	if err != nil || cfg.PostgresURL != "postgres://flag/db" {
		t.Errorf("flag: %+v, %v", cfg, err)
	}
	if _, err := ParseFlags("x", []string{"-redis", "redis://flag"}, io.Discard); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("-redis with DATABASE_URL: %v, want the both-set error", err)
	}
	cfg, err = ParseFlags("x", []string{"-redis", "redis://flag", "-postgres="}, io.Discard)
	if err != nil || cfg.RedisURL != "redis://flag" || cfg.PostgresURL != "" {
		t.Errorf("-postgres= overriding DATABASE_URL: %+v, %v", cfg, err)
	}
	t.Setenv(EnvDatabaseURL, "")
	t.Setenv("REDIS_URL", "redis://env")
	if _, err := ParseFlags("x", []string{"-postgres", "postgres://flag/db"}, io.Discard); err == nil {
		t.Error("-postgres with REDIS_URL accepted")
	}
}

func TestOpenPostgresErrors(t *testing.T) {
	t.Parallel()
	_, err := OpenPostgres(context.Background(), "postgres://u:s3cret@localhost:port/db")
	if !errors.Is(err, ErrPostgresURL) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("malformed URL: %v, want ErrPostgresURL without the password", err)
	}
	start := time.Now()
	_, _, err = OpenStore(context.Background(), Config{PostgresURL: "postgres://u:s3cret@" + closedAddr(t) + "/db"})
	if !errors.Is(err, ErrPostgresUnreachable) || errors.Is(err, ErrPostgresURL) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("closed port: %v, want ErrPostgresUnreachable without the password", err)
	}
	if d := time.Since(start); d > PingTimeout+time.Second {
		t.Errorf("took %v, want at most about %v", d, PingTimeout)
	}
}

func TestDescribePostgres(t *testing.T) {
	d := Describe(Config{PostgresURL: "postgres://app:s3cret@db:5432/shop"})
	if !strings.HasPrefix(d, "postgres postgres://app:xxxxx@db:5432/shop") || strings.Contains(d, "s3cret") {
		t.Errorf("Describe: %q", d)
	}
}
