package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestParseFlags(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvDatabaseURL, "")
	t.Setenv(EnvLease, "")
	t.Setenv(EnvLockWait, "")
	t.Setenv(EnvDeriveSecret, "")
	cfg, err := ParseFlags("x", nil, io.Discard)
	if err != nil || cfg != (Config{Addr: DefaultAddr}) {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	t.Setenv("REDIS_URL", "redis://env:6379")
	if cfg, _ := ParseFlags("x", nil, io.Discard); cfg.RedisURL != "redis://env:6379" {
		t.Errorf("REDIS_URL not used as the default: %+v", cfg)
	}
	cfg, err = ParseFlags("x", []string{"-addr", ":9", "-redis", "redis://flag"}, io.Discard)
	if err != nil || cfg != (Config{Addr: ":9", RedisURL: "redis://flag"}) {
		t.Errorf("flags: %+v, %v", cfg, err)
	}
	if _, err := ParseFlags("x", []string{"extra"}, io.Discard); err == nil {
		t.Error("positional argument accepted")
	}
	if _, err := ParseFlags("x", []string{"-nope"}, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestParseFlagsLeaseAndLockWait(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvLease, "")
	t.Setenv(EnvLockWait, "")
	t.Setenv(EnvDeriveSecret, "")
	check := func(what string, cfg Config, err error, lease, wait string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		show := func(d *time.Duration) string {
			if d == nil {
				return "default"
			}
			return d.String()
		}
		if got, want := show(cfg.Lease)+" "+show(cfg.LockWait), lease+" "+wait; got != want {
			t.Errorf("%s: lease and lock wait %s, want %s", what, got, want)
		}
	}
	cfg, err := ParseFlags("x", nil, io.Discard)
	check("no flags", cfg, err, "default", "default")
	cfg, err = ParseFlags("x", []string{"-lease", "1s", "-lock-wait", "100ms"}, io.Discard)
	check("flags", cfg, err, "1s", "100ms")
	cfg, err = ParseFlags("x", []string{"-lock-wait", "0"}, io.Discard)
	check("no lock wait", cfg, err, "default", "0s")

	t.Setenv(EnvLease, "2s")
	t.Setenv(EnvLockWait, "250ms")
	cfg, err = ParseFlags("x", nil, io.Discard)
	check("environment", cfg, err, "2s", "250ms")
	cfg, err = ParseFlags("x", []string{"-lease", "1s"}, io.Discard)
	check("a flag overrides the environment", cfg, err, "1s", "250ms")

	for _, tc := range []struct {
		env  [2]string // IDEMKIT_LEASE, IDEMKIT_LOCK_WAIT
		args []string
		msg  string
	}{
		{args: []string{"-lease", "soon"}, msg: `invalid value "soon" for flag -lease: not a duration`},
		{args: []string{"-lock-wait", "5"}, msg: `invalid value "5" for flag -lock-wait: not a duration`},
		{args: []string{"-lease", "0"}, msg: "-lease (or IDEMKIT_LEASE) 0s: "},
		{args: []string{"-lease", "5ms"}, msg: "lease must be at least 10ms"},
		{args: []string{"-lock-wait", "-1s"}, msg: "-lock-wait (or IDEMKIT_LOCK_WAIT) -1s: "},
		{env: [2]string{"soon", ""}, msg: `IDEMKIT_LEASE="soon": not a duration`},
		{env: [2]string{"", "-1s"}, msg: "lock wait must not be negative"},
		// A valid flag does not excuse a malformed environment variable.
		{env: [2]string{"bad", ""}, args: []string{"-lease", "1s"}, msg: `IDEMKIT_LEASE="bad"`},
	} {
		t.Setenv(EnvLease, tc.env[0])
		t.Setenv(EnvLockWait, tc.env[1])
		_, err := ParseFlags("x", tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("env %q, args %q: err %v, want it to contain %q", tc.env, tc.args, err, tc.msg)
		}
	}
}

func TestHTTPListenerShutsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- HTTPListener(ctx, quiet, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hi")
		}))
	}()
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestListenReportsServeErrors(t *testing.T) {
	boom := errors.New("boom")
	err := Listen(context.Background(), quiet, "127.0.0.1:0",
		func(ln net.Listener) error { ln.Close(); return boom },
		func(context.Context) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
	err = Listen(context.Background(), quiet, "127.0.0.1:0",
		func(ln net.Listener) error { ln.Close(); return nil },
		func(context.Context) error { return nil })
	if err == nil {
		t.Error("a server that stopped on its own was not reported")
	}
	if err := Listen(context.Background(), quiet, "256.0.0.1:x", nil, nil); err == nil {
		t.Error("bad address accepted")
	}
}

func TestMainExitCodes(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvDatabaseURL, "")
	t.Setenv(EnvLease, "")
	t.Setenv(EnvLockWait, "")
	t.Setenv(EnvDeriveSecret, "")
	noBuild := func(*Env) (Server, error) {
		t.Error("build called")
		return nil, errors.New("unreachable")
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"help", []string{"-h"}, 0, "-redis"},
		{"help lease", []string{"-h"}, 0, "-lease"},
		{"help lock wait", []string{"-h"}, 0, "$IDEMKIT_LOCK_WAIT, then 5s"},
		{"bad flag", []string{"-bogus"}, 2, "bogus"},
		{"bad redis URL", []string{"-redis", "http://localhost"}, 2, "invalid Redis URL"},
		{"bad lease", []string{"-lease", "1"}, 2, `invalid value "1" for flag -lease`},
		{"lease too short", []string{"-lease", "1ms"}, 2, "x: -lease (or IDEMKIT_LEASE) 1ms: "},
		{"negative lock wait", []string{"-lock-wait", "-5s"}, 2, "x: -lock-wait (or IDEMKIT_LOCK_WAIT) -5s: "},
		{"redis down", []string{"-redis", "redis://" + closedAddr(t) + "/0"}, 1, "redis unreachable"},
		{"help postgres", []string{"-h"}, 0, "-postgres"},
		{"bad postgres URL", []string{"-postgres", "postgres://u:s3cret@localhost:port/db"}, 2, "invalid PostgreSQL URL"},
		{"postgres down", []string{"-postgres", "postgres://u:s3cret@" + closedAddr(t) + "/db?connect_timeout=1"}, 1, "postgres unreachable"},
		{"both stores", []string{"-redis", "redis://localhost:6379/0", "-postgres", "postgres://localhost/db"}, 2, "-redis (or REDIS_URL) and -postgres (or DATABASE_URL) are both set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			if code := Main("x", tc.args, &out, noBuild); code != tc.want {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.want, out.String())
			}
			if !strings.Contains(out.String(), tc.msg) {
				t.Errorf("output lacks %q:\n%s", tc.msg, out.String())
			}
		})
	}

	t.Run("bad environment", func(t *testing.T) {
		t.Setenv(EnvLockWait, "a while")
		var out strings.Builder
		if code := Main("x", nil, &out, noBuild); code != 2 || !strings.Contains(out.String(), `x: IDEMKIT_LOCK_WAIT="a while": not a duration`) {
			t.Errorf("exit %d, output:\n%s", code, out.String())
		}
	})

	var out strings.Builder
	code := Main("x", []string{"-addr", "127.0.0.1:0"}, &out, func(*Env) (Server, error) {
		return nil, errors.New("bad option")
	})
	if code != 2 || !strings.Contains(out.String(), "x: bad option") {
		t.Errorf("build error: exit %d, output %q", code, out.String())
	}

	out.Reset()
	code = Main("x", []string{"-addr", "127.0.0.1:0"}, &out, func(env *Env) (Server, error) {
		if env.Store == nil || env.Shop == nil || env.Metrics == nil || env.Telemetry == nil || len(env.Options()) == 0 {
			t.Errorf("incomplete env %+v", env)
		}
		return func(context.Context) error { return errors.New("listen failed") }, nil
	})
	if code != 1 || !strings.Contains(out.String(), "listen failed") || !strings.Contains(out.String(), "store=\"memory") {
		t.Errorf("server error: exit %d, output %q", code, out.String())
	}

	out.Reset()
	code = Main("x", []string{"-addr", "127.0.0.1:0"}, &out, func(env *Env) (Server, error) {
		return func(context.Context) error { return nil }, nil
	})
	if code != 0 || !strings.Contains(out.String(), "stopped") {
		t.Errorf("clean stop: exit %d, output %q", code, out.String())
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestParseFlagsDeriveSecret(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvLease, "")
	t.Setenv(EnvLockWait, "")
	t.Setenv(EnvDeriveSecret, "")
	want := "0123456789abcdef" // 16 bytes
	for _, tc := range []struct{ name, env, flag string }{
		{"hex flag", "", "30313233343536373839616263646566"},
		{"base64 flag", "", "MDEyMzQ1Njc4OWFiY2RlZg=="},
		{"unpadded base64", "", "MDEyMzQ1Njc4OWFiY2RlZg"},
		{"environment", "30313233343536373839616263646566", ""},
		{"a flag overrides the environment", "ffffffffffffffffffffffffffffffff", "MDEyMzQ1Njc4OWFiY2RlZg=="},
	} {
		t.Setenv(EnvDeriveSecret, tc.env)
		var args []string
		if tc.flag != "" {
			args = []string{"-derive-secret", tc.flag}
		}
		cfg, err := ParseFlags("x", args, io.Discard)
		if err != nil || cfg.DeriveSecret != want {
			t.Errorf("%s: secret %q, %v; want %q", tc.name, cfg.DeriveSecret, err, want)
		}
	}
	t.Setenv(EnvDeriveSecret, "nonsense!")
	if _, err := ParseFlags("x", []string{"-derive-secret", "MDEyMzQ1Njc4OWFiY2RlZg=="}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), EnvDeriveSecret+": neither hex nor base64") {
		t.Errorf("malformed %s beside a valid flag: %v", EnvDeriveSecret, err)
	}
	t.Setenv(EnvDeriveSecret, "")
	for _, tc := range []struct{ value, msg string }{
		{"00112233445566778899aabbccddee", "15 bytes, want at least 16"},
		{"not a secret at all!", "neither hex nor base64"},
	} {
		_, err := ParseFlags("x", []string{"-derive-secret", tc.value}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), EnvDeriveSecret) {
			t.Errorf("%q: %v, want an error naming %s and saying %q", tc.value, err, EnvDeriveSecret, tc.msg)
		} else if strings.Contains(err.Error(), tc.value) {
			t.Errorf("%q: the error shows the secret: %v", tc.value, err)
		}
	}
}

func TestParseFlagsMemoryBounds(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvMemoryMaxEntries, "")
	t.Setenv(EnvMemoryMaxBytes, "")
	cfg, err := ParseFlags("x", []string{"-memory-max-entries", "50", "-memory-max-bytes", "65536"}, io.Discard)
	if err != nil || cfg.MemoryMaxEntries != 50 || cfg.MemoryMaxBytes != 65536 {
		t.Errorf("flags: %+v, %v", cfg, err)
	}
	t.Setenv(EnvMemoryMaxEntries, "70")
	t.Setenv(EnvMemoryMaxBytes, "80000")
	if cfg, err := ParseFlags("x", nil, io.Discard); err != nil || cfg.MemoryMaxEntries != 70 || cfg.MemoryMaxBytes != 80000 {
		t.Errorf("environment: %+v, %v", cfg, err)
	}
	if cfg, err := ParseFlags("x", []string{"-memory-max-entries", "9"}, io.Discard); err != nil || cfg.MemoryMaxEntries != 9 {
		t.Errorf("the flag does not win over %s: %+v, %v", EnvMemoryMaxEntries, cfg, err)
	}
	t.Setenv(EnvMemoryMaxEntries, "many")
	if _, err := ParseFlags("x", nil, io.Discard); err == nil || !strings.Contains(err.Error(), EnvMemoryMaxEntries) {
		t.Errorf("malformed %s: %v", EnvMemoryMaxEntries, err)
	}
	t.Setenv(EnvMemoryMaxEntries, "")
	t.Setenv(EnvMemoryMaxBytes, "")
	for _, args := range [][]string{
		{"-memory-max-entries", "-1"},
		{"-memory-max-bytes", "-1"},
		{"-memory-max-entries", "10", "-redis", "redis://localhost:6379/0"},
	} {
		if _, err := ParseFlags("x", args, io.Discard); err == nil || !strings.Contains(err.Error(), "-memory-max-") {
			t.Errorf("%q: %v, want an error naming the flag", args, err)
		}
	}
	if d := Describe(Config{MemoryMaxEntries: 50, MemoryMaxBytes: 65536}); !strings.Contains(d, "at most 50 records, at most 65536 bytes") {
		t.Errorf("Describe: %s", d)
	}
}

func TestParseFlagsSigningKey(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv(EnvSigningKey, "")
	t.Setenv(EnvEncrypt, "")
	hexKey := strings.Repeat("ab", 32)                           // 32 bytes
	b64Key := "c2lnbmluZy1rZXktb2YtdGhlLXRlc3QtMzItYnl0ZXMhIQ==" // 33 bytes
	for _, tc := range []struct{ name, flag, env, want string }{
		{"hex flag", hexKey, "", hexKey},
		{"base64 env", "", b64Key, b64Key},
		{"ring", "new:" + hexKey + ",old:" + b64Key, "", "new:" + hexKey + ",old:" + b64Key},
		{"flag wins", hexKey, b64Key, hexKey},
	} {
		t.Setenv(EnvSigningKey, tc.env)
		var args []string
		if tc.flag != "" {
			args = []string{"-signing-key", tc.flag}
		}
		cfg, err := ParseFlags("x", args, io.Discard)
		if err != nil || cfg.SigningKeys != tc.want {
			t.Errorf("%s: %q, %v", tc.name, cfg.SigningKeys, err)
		}
	}
	t.Setenv(EnvSigningKey, "")
	short := strings.Repeat("cd", 31) // 31 bytes
	for _, args := range [][]string{
		{"-signing-key", short},
		{"-signing-key", "k1:" + short},
		{"-signing-key", "a:" + hexKey + ",a:" + hexKey},
		{"-signing-key", "not a secret " + short},
	} {
		_, err := ParseFlags("x", args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-signing-key") {
			t.Errorf("%q: %v, want an error naming -signing-key", args, err)
		} else if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), hexKey) {
			t.Errorf("%q: the error shows the secret: %v", args, err)
		}
	}
	t.Setenv(EnvSigningKey, short)
	if _, err := ParseFlags("x", []string{"-signing-key", hexKey}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), EnvSigningKey) || strings.Contains(err.Error(), short) {
		t.Errorf("malformed %s beside a valid flag: %v", EnvSigningKey, err)
	}
	t.Setenv(EnvSigningKey, "")

	if _, err := ParseFlags("x", []string{"-encrypt"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-encrypt") {
		t.Errorf("-encrypt without a key: %v", err)
	}
	t.Setenv(EnvEncrypt, "true")
	if cfg, err := ParseFlags("x", []string{"-signing-key", hexKey}, io.Discard); err != nil || !cfg.Encrypt {
		t.Errorf("%s=true: %+v, %v", EnvEncrypt, cfg.Encrypt, err)
	}
	t.Setenv(EnvEncrypt, "maybe")
	if _, err := ParseFlags("x", []string{"-signing-key", hexKey}, io.Discard); err == nil || !strings.Contains(err.Error(), EnvEncrypt) {
		t.Errorf("malformed %s: %v", EnvEncrypt, err)
	}
}
