package core

import (
	"strconv"
	"strings"
)

// Scope names a built-in key space.
type Scope string

// Built-in scopes. Keys of one scope never see records of another.
const (
	// ScopeGlobal shares keys between every user and route.
	ScopeGlobal Scope = "global"
	// ScopeUser gives each user its own keys; requests without a user
	// share the anonymous space, which no user id can name.
	ScopeUser Scope = "user"
	// ScopeRoute gives each method and route pattern its own keys.
	ScopeRoute Scope = "route"
	// ScopeIP gives each client address its own keys.
	ScopeIP Scope = "ip"
	// ScopeUserRoute gives each user on each route its own keys. Default.
	ScopeUserRoute Scope = "user_route"
)

// anonymous stands for "no user" in scope strings. It starts with '%',
// which escapeScopePart always escapes in real user ids (as "%25"), so no
// user id, not even "guest" or "%anonymous", can name the anonymous space.
const anonymous = "%anonymous"

func (s Scope) valid() bool {
	switch s {
	case ScopeGlobal, ScopeUser, ScopeRoute, ScopeIP, ScopeUserRoute:
		return true
	}
	return false
}

// ScopeResolver computes the scope of a request. Requests with different
// scopes never see each other's records.
type ScopeResolver interface {
	ResolveScope(r Request) (string, error)
}

// ScopeResolverFunc adapts a function to ScopeResolver.
type ScopeResolverFunc func(r Request) (string, error)

// ResolveScope calls f(r).
func (f ScopeResolverFunc) ResolveScope(r Request) (string, error) { return f(r) }

// ScopeString builds the scope string of a built-in scope, as the Engine
// stores it; Flush and Inspect take it. Parts that do not apply to s are
// ignored; an empty user is the anonymous space.
func ScopeString(s Scope, user, method, route, ip string) string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeUser:
		return "user:" + userPart(user)
	case ScopeRoute:
		return "route:" + method + " " + route
	case ScopeIP:
		return "ip:" + escapeScopePart(ip)
	default:
		return "user_route:" + userPart(user) + "|" + method + " " + route
	}
}

func userPart(u string) string {
	if u == "" {
		return anonymous
	}
	return escapeScopePart(u)
}

// escapeScopePart keeps free-form parts (user ids, addresses) from forging
// the separators of another scope.
func escapeScopePart(s string) string {
	if !strings.ContainsAny(s, "%|\n") {
		return s
	}
	r := strings.NewReplacer("%", "%25", "|", "%7C", "\n", "%0A")
	return r.Replace(s)
}

// scopedKey joins a scope and a key unambiguously: the length prefix keeps
// ("a:b", "c") and ("a", "b:c") apart whatever the characters.
func scopedKey(scope, key string) string {
	storeKey, _ := frameKey(scope, nil, key)
	return storeKey
}

// frameKey is the one encoding of store keys, "<len(scope)>:<scope>:<key>",
// shared by scopedKey and the HTTP path's builtinStoreKey so they cannot
// drift apart (Flush and Inspect must find what requests stored). The
// scope comes as a string or as bytes, whichever the caller has; the
// other is empty. It returns the key and the scope inside it, with one
// allocation.
func frameKey(scopeStr string, scopeBytes []byte, key string) (storeKey, scope string) {
	n := len(scopeStr) + len(scopeBytes)
	var num [20]byte
	prefix := strconv.AppendInt(num[:0], int64(n), 10)
	var sb strings.Builder // String() hands over its buffer: one allocation
	sb.Grow(len(prefix) + 1 + n + 1 + len(key))
	sb.Write(prefix)
	sb.WriteByte(':')
	sb.WriteString(scopeStr)
	sb.Write(scopeBytes)
	sb.WriteByte(':')
	sb.WriteString(key)
	storeKey = sb.String()
	return storeKey, storeKey[len(prefix)+1 : len(prefix)+1+n]
}

// builtinStoreKey returns scopedKey(ScopeString(...), key) and the scope
// inside it, with one allocation.
func builtinStoreKey(s Scope, user, method, route, ip, key string) (storeKey, scope string) {
	var buf [256]byte
	b := buf[:0]
	switch s {
	case ScopeGlobal:
		b = append(b, "global"...)
	case ScopeUser:
		b = append(b, "user:"...)
		b = appendUserPart(b, user)
	case ScopeRoute:
		b = append(b, "route:"...)
		b = append(b, method...)
		b = append(b, ' ')
		b = append(b, route...)
	case ScopeIP:
		b = append(b, "ip:"...)
		b = appendScopePart(b, ip)
	default:
		b = append(b, "user_route:"...)
		b = appendUserPart(b, user)
		b = append(b, '|')
		b = append(b, method...)
		b = append(b, ' ')
		b = append(b, route...)
	}
	return frameKey("", b, key)
}

func appendUserPart(b []byte, u string) []byte {
	if u == "" {
		return append(b, anonymous...)
	}
	return appendScopePart(b, u)
}

func appendScopePart(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "%|\n") {
		return append(b, s...)
	}
	return append(b, escapeScopePart(s)...)
}
