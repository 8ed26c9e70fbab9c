package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("REDIS_URL", "")
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

func TestOpenStore(t *testing.T) {
	a, err := OpenStore(Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := OpenStore(Config{})
	if a == b {
		t.Error("two servers would share one memory store")
	}
	if _, err := OpenStore(Config{RedisURL: "redis://localhost"}); !errors.Is(err, ErrRedisNotBuilt) {
		t.Errorf("redis: %v", err)
	}
}

func TestHTTPListenerShutsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- HTTPListener(ctx, logger, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
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
