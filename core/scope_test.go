package core

import (
	"strings"
	"testing"
)

func TestScopeString(t *testing.T) {
	tests := []struct {
		scope                   Scope
		user, method, route, ip string
		want                    string
	}{
		{ScopeGlobal, "alice", "POST", "/p/:id", "10.0.0.1", "global"},
		{ScopeGlobal, "", "", "", "", "global"},
		{ScopeUser, "alice", "POST", "/p/:id", "10.0.0.1", "user:alice"},
		{ScopeUser, "", "POST", "/p/:id", "10.0.0.1", "user:%anonymous"},
		{ScopeRoute, "alice", "POST", "/p/:id", "10.0.0.1", "route:POST /p/:id"},
		{ScopeRoute, "bob", "PUT", "/p/:id", "", "route:PUT /p/:id"},
		{ScopeIP, "alice", "POST", "/p/:id", "10.0.0.1", "ip:10.0.0.1"},
		{ScopeIP, "", "", "", "::1", "ip:::1"},
		{ScopeUserRoute, "alice", "POST", "/p/:id", "10.0.0.1", "user_route:alice|POST /p/:id"},
		{ScopeUserRoute, "", "POST", "/p/:id", "10.0.0.1", "user_route:%anonymous|POST /p/:id"},
		{"", "alice", "POST", "/p", "", "user_route:alice|POST /p"}, // unknown falls back to the default
		// escaping of free-form parts
		{ScopeUser, "a|b", "", "", "", "user:a%7Cb"},
		{ScopeUser, "100%", "", "", "", "user:100%25"},
		{ScopeUser, "%7C", "", "", "", "user:%257C"},
		{ScopeUser, "a\nb", "", "", "", "user:a%0Ab"},
		{ScopeUserRoute, "a|POST /x", "GET", "/y", "", "user_route:a%7CPOST /x|GET /y"},
		{ScopeIP, "", "", "", "1|2", "ip:1%7C2"},
	}
	for _, tt := range tests {
		if got := ScopeString(tt.scope, tt.user, tt.method, tt.route, tt.ip); got != tt.want {
			t.Errorf("ScopeString(%q, %q, %q, %q, %q) = %q, want %q", tt.scope, tt.user, tt.method, tt.route, tt.ip, got, tt.want)
		}
	}
}

// TestScopeStringUnambiguous: distinct users always give distinct scope
// strings, however they are chosen, and scopes of different kinds never
// meet.
func TestScopeStringUnambiguous(t *testing.T) {
	users := []string{"", "guest", "%anonymous", "%25anonymous", "anonymous", "a", "a|b", "a%7Cb", "a%b", "a%25b", "a|GET /x", "a\nb", "a%0Ab", "|", "%", "%%", "%7C", "%257C"}
	for _, s := range []Scope{ScopeUser, ScopeUserRoute} {
		seen := map[string]string{}
		for _, u := range users {
			got := ScopeString(s, u, "POST", "/p", "")
			if prev, ok := seen[got]; ok && prev != u {
				t.Errorf("%s: users %q and %q share scope %q", s, prev, u, got)
			}
			seen[got] = u
		}
	}
	// user_route: the user cannot forge the route part.
	a := ScopeString(ScopeUserRoute, "u|POST /admin", "POST", "/x", "")
	b := ScopeString(ScopeUserRoute, "u", "POST", "/admin|POST /x", "")
	if a == b {
		t.Errorf("user and route parts can be confused: %q", a)
	}
	// Scope kinds carry distinct prefixes.
	prefixes := map[string]Scope{}
	for _, s := range []Scope{ScopeGlobal, ScopeUser, ScopeRoute, ScopeIP, ScopeUserRoute} {
		str := ScopeString(s, "x", "POST", "/p", "1.2.3.4")
		p, _, _ := strings.Cut(str, ":")
		if other, ok := prefixes[p]; ok {
			t.Errorf("scopes %s and %s share prefix %q", s, other, p)
		}
		prefixes[p] = s
	}
}

func TestEscapeScopePart(t *testing.T) {
	tests := map[string]string{
		"":       "",
		"plain":  "plain",
		"%":      "%25",
		"|":      "%7C",
		"\n":     "%0A",
		"a%|\nb": "a%25%7C%0Ab",
		"%7C":    "%257C",
	}
	for in, want := range tests {
		if got := escapeScopePart(in); got != want {
			t.Errorf("escapeScopePart(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScopeValid(t *testing.T) {
	for _, s := range []Scope{ScopeGlobal, ScopeUser, ScopeRoute, ScopeIP, ScopeUserRoute} {
		if !s.valid() {
			t.Errorf("%q not valid", s)
		}
	}
	for _, s := range []Scope{"", "custom", "USER", "user ", "userroute"} {
		if s.valid() {
			t.Errorf("%q valid", s)
		}
	}
}

func TestScopedKey(t *testing.T) {
	tests := []struct{ scope, key, want string }{
		{"", "", "0::"},
		{"a", "b", "1:a:b"},
		{"a:b", "c", "3:a:b:c"},
		{"a", "b:c", "1:a:b:c"},
		{"user_route:guest|POST /p", "k", "24:user_route:guest|POST /p:k"},
		{strings.Repeat("s", 1234), "k", "1234:" + strings.Repeat("s", 1234) + ":k"},
	}
	for _, tt := range tests {
		if got := scopedKey(tt.scope, tt.key); got != tt.want {
			t.Errorf("scopedKey(%q, %q) = %q, want %q", tt.scope, tt.key, got, tt.want)
		}
	}
	if scopedKey("a:b", "c") == scopedKey("a", "b:c") {
		t.Error(`scopedKey("a:b","c") == scopedKey("a","b:c")`)
	}
	if StoreKey("s", "k") != scopedKey("s", "k") {
		t.Error("StoreKey differs from scopedKey")
	}
}

// TestScopedKeyInjective checks that every split of a set of strings into
// (scope, key) gives a different stored key.
func TestScopedKeyInjective(t *testing.T) {
	parts := []string{"", ":", "a", "a:", ":a", "1:a", "10", "1", "0:", "ab:cd", "a:b:c", strings.Repeat("9", 11)}
	seen := map[string][2]string{}
	for _, s := range parts {
		for _, k := range parts {
			got := scopedKey(s, k)
			if prev, ok := seen[got]; ok {
				t.Errorf("scopedKey(%q,%q) = scopedKey(%q,%q) = %q", s, k, prev[0], prev[1], got)
			}
			seen[got] = [2]string{s, k}
		}
	}
}

// The HTTP path builds store keys in one step; Flush, Inspect and
// StoreKey build them from ScopeString. Both must agree, or operators
// would flush keys that requests never used.
func TestBuiltinStoreKeyMatchesScopeString(t *testing.T) {
	for _, s := range []Scope{ScopeGlobal, ScopeUser, ScopeRoute, ScopeIP, ScopeUserRoute} {
		for _, user := range []string{"", "alice", "a|b%c\nd"} {
			storeKey, scope := builtinStoreKey(s, user, "POST", "/payments/:id", "10.0.0.1", "k-1")
			want := ScopeString(s, user, "POST", "/payments/:id", "10.0.0.1")
			if storeKey != StoreKey(want, "k-1") || scope != want {
				t.Errorf("%s/%q: builtinStoreKey = (%q, %q), want (%q, %q)", s, user, storeKey, scope, StoreKey(want, "k-1"), want)
			}
		}
	}
}
