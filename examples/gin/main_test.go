package main

import (
	"strings"
	"testing"
)

func TestRedisNotBuiltExits2(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-redis", "redis://localhost:6379"}, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(out.String(), "the Redis store is not built into this example yet") {
		t.Errorf("message %q", out.String())
	}
}

func TestBadFlagExits2(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-bogus"}, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
