package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// Secrets of the test key rings: k2 signs, k1 verifies.
var (
	secretK2 = strings.Repeat("a2", 32)
	secretK1 = strings.Repeat("b1", 32)
	ringK2K1 = "k2:" + secretK2 + ",k1:" + secretK1
)

// newSealedEnv is newEnv whose Engine signs records with ringK2K1, and
// encrypts them when encrypt. The environment gives idemctl no ring.
func newSealedEnv(t *testing.T, encrypt bool) *env {
	t.Helper()
	t.Setenv(envSigningKey, "")
	t.Setenv(envEncrypt, "")
	e := newEnv(t, "idem:")
	keys, err := core.ParseRecordKeys(ringK2K1)
	if err != nil {
		t.Fatal(err)
	}
	opts := []core.Option{core.WithStore(e.store), core.WithKeyValidator(core.Token()), core.WithLockWait(0), core.WithRecordKeys(keys...)}
	if encrypt {
		opts = append(opts, core.WithRecordEncryption())
	}
	if e.eng, err = core.New(opts...); err != nil {
		t.Fatal(err)
	}
	return e
}

// uncertain makes key uncertain through the Engine: its function
// declares effects, then fails.
func (e *env) uncertain(scope, key string) {
	e.t.Helper()
	_, _, err := e.eng.Do(context.Background(), scope, key, fingerprint(key), func(ctx context.Context) ([]byte, error) {
		if err := core.DeclareEffects(ctx); err != nil {
			return nil, err
		}
		return nil, errors.New("provider answered 502")
	})
	if err == nil {
		e.t.Fatal("Do succeeded")
	}
	if rec, err := e.store.Get(context.Background(), core.StoreKey(scope, key)); err != nil || rec.State != core.StateUncertain {
		e.t.Fatalf("record %+v %v, want uncertain", rec, err)
	}
}

// noSecret fails t when any output holds a secret of the test rings.
func noSecret(t *testing.T, outs ...string) {
	t.Helper()
	for _, s := range outs {
		for _, secret := range []string{secretK2, secretK1, secretK2[:16], secretK1[:16]} {
			if strings.Contains(s, secret) {
				t.Fatalf("output shows a secret:\n%s", s)
			}
		}
	}
}

func TestInspectSigned(t *testing.T) {
	e := newSealedEnv(t, false)
	e.complete(payments, "done", `{"id":"pay_1"}`)
	e.uncertain(payments, "unc")
	e.storeResponse(payments, "forged", &core.Response{Status: 200, Body: []byte(`{"id":"forged"}`)})
	// Keys are used as typed, as the servers' Token validator does (a
	// UUID validator would read another record).
	upper := "8D2F6C1E-6A53-4A4F-9D2B-4F1F3C2A7B10"
	e.complete(payments, upper, "upper")
	code, out, errOut := e.ctl("idem:", "-signing-key", ringK2K1, "inspect", "-scope", payments, "-key", upper, "-json")
	if in := decode[inspection](t, out); code != exitOK || !in.Verified || in.Response == nil || in.Response.Body != "upper" {
		t.Fatalf("exit %d: inspection %+v\n%s", code, in, errOut)
	}

	// Without the ring: sealed, not shown, no error.
	code, out, errOut = e.ctl("idem:", "inspect", "-scope", payments, "-key", "done")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "state        completed", "seal         signed by key k2; not verified: -signing-key (or $IDEMKIT_SIGNING_KEY) verifies and decodes it")
	if strings.Contains(out, "pay_1") || strings.Contains(out, "decode error") || strings.Contains(out, "\nstatus ") {
		t.Fatalf("a sealed response is shown unverified, or as an error:\n%s", out)
	}
	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "done", "-json")
	if in := decode[inspection](t, out); !in.Sealed || in.SealKeyID != "k2" || in.Encrypted || in.Verified || in.DoesNotVerify != "" || in.Response != nil || in.DecodeError != "" {
		t.Fatalf("inspection %+v", in)
	}
	_, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "unc", "-json")
	if in := decode[inspection](t, out); !in.Sealed || in.Reason != nil || !in.Resolvable {
		t.Fatalf("inspection %+v", in)
	}

	// With the ring (the flag, or the environment): verified and decoded.
	code, out, errOut = e.ctl("idem:", "-signing-key", ringK2K1, "inspect", "-scope", payments, "-key", "done")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, out, "seal         signed by key k2\n", "verify       verifies under the key ring", "status       200 OK", "\n{\"id\":\"pay_1\"}\n")
	t.Setenv(envSigningKey, ringK2K1)
	code, out, errOut = e.ctl("idem:", "inspect", "-scope", payments, "-key", "done", "-json")
	if in := decode[inspection](t, out); code != exitOK || !in.Verified || in.Response == nil || in.Response.Body != `{"id":"pay_1"}` {
		t.Fatalf("exit %d: inspection %+v\n%s", code, in, errOut)
	}
	code, out, _ = e.ctl("idem:", "inspect", "-scope", payments, "-key", "unc", "-json")
	if in := decode[inspection](t, out); code != exitOK || !in.Verified || in.Reason == nil || !strings.Contains(*in.Reason, "after declaring effects") {
		t.Fatalf("exit %d: inspection %+v", code, in)
	}
	noSecret(t, out)
	t.Setenv(envSigningKey, "")

	// A record signed in clear still verifies once encryption is on.
	if code, out, errOut := e.ctl("idem:", "-signing-key", ringK2K1, "-encrypt", "inspect", "-scope", payments, "-key", "done", "-json"); code != exitOK || !decode[inspection](t, out).Verified {
		t.Fatalf("signed in clear, inspected with -encrypt: exit %d: %s %s", code, out, errOut)
	}

	// Records that do not verify: exit 5, the reason, nothing shown as
	// genuine.
	for _, c := range []struct {
		key, ring string
		encrypt   bool
		why       string
	}{
		{"done", "k2:" + strings.Repeat("c3", 32), false, "signature does not verify"},
		{"done", "k1:" + secretK1, false, `sealed with unknown key id "k2"`},
		{"unc", "k2:" + strings.Repeat("c3", 32), false, "signature does not verify"},
		{"forged", ringK2K1, false, "not signed"},
	} {
		args := []string{"-signing-key", c.ring}
		if c.encrypt {
			args = append(args, "-encrypt")
		}
		args = append(args, "inspect", "-scope", payments, "-key", c.key)
		code, out, errOut := e.ctl("idem:", args...)
		if code != exitUnverified {
			t.Fatalf("%s %s: exit %d, want %d: %s", c.key, c.why, code, exitUnverified, errOut)
		}
		wantContains(t, out, "verify       does not verify: "+c.why+": the servers refuse this record (503)")
		if strings.Contains(out, "pay_1") || strings.Contains(out, "forged\"") || strings.Contains(out, "provider") || strings.Contains(out, "\nstatus ") || strings.Contains(out, "verifies under") {
			t.Fatalf("%s: a record that does not verify is shown:\n%s", c.key, out)
		}
		code, out, _ = e.ctl("idem:", append(args, "-json")...)
		in := decode[inspection](t, out)
		if code != exitUnverified || in.DoesNotVerify != c.why || in.Verified || in.Response != nil || in.Reason != nil {
			t.Fatalf("%s: exit %d: inspection %+v", c.key, code, in)
		}
		noSecret(t, out, errOut)
	}
}

func TestInspectEncrypted(t *testing.T) {
	e := newSealedEnv(t, true)
	e.complete(payments, "done", `{"card":"4242"}`)
	_, out, _ := e.ctl("idem:", "inspect", "-scope", payments, "-key", "done")
	wantContains(t, out, "seal         encrypted with key k2; not verified")
	if strings.Contains(out, "4242") {
		t.Fatalf("shown:\n%s", out)
	}
	t.Setenv(envEncrypt, "true")
	code, out, errOut := e.ctl("idem:", "-signing-key", ringK2K1, "inspect", "-scope", payments, "-key", "done", "-json")
	if in := decode[inspection](t, out); code != exitOK || !in.Encrypted || !in.Verified || in.Response == nil || in.Response.Body != `{"card":"4242"}` {
		t.Fatalf("exit %d: inspection %+v\n%s", code, in, errOut)
	}
}

func TestSigningKeyUsage(t *testing.T) {
	t.Setenv(envSigningKey, "")
	t.Setenv(envEncrypt, "")
	sk := []string{"-redis", "redis://127.0.0.1:1/0", "inspect", "-scope", payments, "-key", "k"}
	short := strings.Repeat("d4", 20) // 20 bytes: too short
	for _, c := range []struct {
		env  map[string]string
		args []string
		out  string
	}{
		{nil, append([]string{"-signing-key", "k1:" + short}, sk...), "idemctl inspect: -signing-key: record key \"k1\": secret must be at least 32 bytes, got 20\n"},
		{nil, append([]string{"-signing-key", short + "!"}, sk...), `idemctl inspect: -signing-key: record key "k1": secret is neither hex nor base64`},
		{map[string]string{envSigningKey: "k1:" + short}, sk, "IDEMKIT_SIGNING_KEY: "},
		{nil, append([]string{"-encrypt"}, sk...), "-encrypt needs a key ring (-signing-key or IDEMKIT_SIGNING_KEY)"},
		{map[string]string{envEncrypt: "1"}, sk, "IDEMKIT_ENCRYPT needs a key ring"},
		{map[string]string{envEncrypt: "maybe", envSigningKey: ringK2K1}, sk, `IDEMKIT_ENCRYPT="maybe": want true or false`},
		{nil, []string{"-encrypt=perhaps", "stats"}, `invalid boolean value "perhaps" for -encrypt: want true or false`},
		{nil, []string{"resolve", "-signing-key", "k1:" + short, "-scope", payments, "-key", "k", "-status", "200"}, "idemctl resolve: -signing-key: "},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		code, out, errOut := ctl(c.args...)
		if code != exitUsage || !strings.Contains(out+errOut, c.out) {
			t.Errorf("idemctl %q: exit %d, want %d with %q\n%s%s", c.args, code, exitUsage, c.out, out, errOut)
		}
		if strings.Contains(out+errOut, short) {
			t.Errorf("idemctl %q shows the secret:\n%s%s", c.args, out, errOut)
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}
	// -h shows the flags, and no secret from the environment.
	t.Setenv(envSigningKey, ringK2K1)
	code, out, errOut := ctl("inspect", "-h")
	if code != exitOK || !strings.Contains(errOut, "-signing-key ring") || !strings.Contains(errOut, "(default $IDEMKIT_SIGNING_KEY)") || !strings.Contains(errOut, "-encrypt") {
		t.Errorf("inspect -h: exit %d\n%s", code, errOut)
	}
	noSecret(t, out, errOut)
	// Commands that do not need the ring ignore it (release, stats).
	code, _, errOut = ctl("-redis", "redis://127.0.0.1:1/0", "-timeout", "1s", "-signing-key", "junk", "resolve", "-scope", payments, "-key", "k", "-release")
	if code != exitFailure {
		t.Errorf("resolve -release with a bad ring: exit %d: %s", code, errOut)
	}
}

func TestResolveSigned(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		e := newSealedEnv(t, encrypt)
		ctx := context.Background()
		e.uncertain(payments, "unc")
		rk := e.store.RecordKey(core.StoreKey(payments, "unc"))
		respArgs := []string{"resolve", "-scope", payments, "-key", "unc", "-status", "201", "-header", "Content-Type: application/json", "-body", `{"id":"pay_7"}`}
		var ring []string
		if encrypt {
			ring = append(ring, "-encrypt")
		}

		// Without the ring: refused, nothing changed.
		code, out, errOut := e.ctl("idem:", respArgs...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "idemctl resolve: record "+rk+" is signed (key k2), so the servers sign their records and would refuse (503) an unsigned response: give their key ring with -signing-key") {
			t.Fatalf("encrypt=%v: exit %d\n%s%s", encrypt, code, out, errOut)
		}
		// With a wrong ring: the record does not verify; refused.
		code, _, errOut = e.ctl("idem:", append(append([]string{"-signing-key", "k2:" + strings.Repeat("c3", 32)}, ring...), respArgs...)...)
		if code != exitUnverified || !strings.Contains(errOut, "idemctl resolve: record "+rk+" does not verify: ") {
			t.Fatalf("encrypt=%v: wrong ring: exit %d\n%s", encrypt, code, errOut)
		}
		noSecret(t, errOut)
		if rec, err := e.store.Get(ctx, core.StoreKey(payments, "unc")); err != nil || rec.State != core.StateUncertain {
			t.Fatalf("record %+v %v", rec, err)
		}

		// With the ring: sealed by the Engine; the servers replay it.
		code, out, errOut = e.ctl("idem:", append(append([]string{"-signing-key", ringK2K1}, ring...), append(respArgs, "-json")...)...)
		if code != exitOK {
			t.Fatalf("encrypt=%v: exit %d: %s", encrypt, code, errOut)
		}
		if r := decode[resolveResult](t, out); r.Action != "completed" || r.Was != "uncertain" || r.SignedBy != "k2" || r.Encrypted != encrypt {
			t.Fatalf("result %+v", r)
		}
		noSecret(t, out, errOut)
		rec, err := e.store.Get(ctx, core.StoreKey(payments, "unc"))
		if id, enc, sealed := core.SealInfo(rec.Payload); err != nil || !sealed || id != "k2" || enc != encrypt {
			t.Fatalf("record %+v %v: sealed %v by %q encrypted %v", rec, err, sealed, id, enc)
		}
		got, replayed, err := e.eng.Do(ctx, payments, "unc", fingerprint("unc"), func(context.Context) ([]byte, error) {
			e.runs.Add(1)
			return nil, nil
		})
		if err != nil || !replayed || string(got) != `{"id":"pay_7"}` || e.runs.Load() != 0 {
			t.Fatalf("encrypt=%v: Do after resolve: %q replayed=%v err=%v runs=%d", encrypt, got, replayed, err, e.runs.Load())
		}
		ins, err := e.eng.Inspect(ctx, payments, "unc")
		if err != nil || ins.Response == nil || ins.Response.Status != 201 || ins.Response.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("Inspect %+v %v", ins, err)
		}
		_, out, _ = e.ctl("idem:", "-signing-key", ringK2K1, "inspect", "-scope", payments, "-key", "unc")
		wantContains(t, out, "verify       verifies under the key ring", "status       201 Created", "token        0 (resolved by an operator)")

		// Text output names the key.
		e.uncertain(payments, "unc2")
		_, out, _ = e.ctl("idem:", append(append([]string{"-signing-key", ringK2K1}, ring...), "resolve", "-scope", payments, "-key", "unc2", "-status", "200", "-ttl", "1h")...)
		want := "(0-byte body, signed by key k2), kept 1h0m0s"
		if encrypt {
			want = "(0-byte body, encrypted with key k2), kept 1h0m0s"
		}
		wantContains(t, out, "completed uncertain record ", want)
		if rec, err := e.store.Get(ctx, core.StoreKey(payments, "unc2")); err != nil || time.Until(rec.ExpiresAt) > time.Hour {
			t.Fatalf("record %+v %v, want the -ttl", rec, err)
		}

		// -release needs no ring.
		e.uncertain(payments, "unc3")
		code, out, errOut = e.ctl("idem:", "resolve", "-scope", payments, "-key", "unc3", "-release")
		if code != exitOK || !strings.Contains(out, "released uncertain record") {
			t.Fatalf("release: exit %d\n%s%s", code, out, errOut)
		}
	}
}

func TestRedactSecrets(t *testing.T) {
	for _, c := range []struct{ msg, raw, want string }{
		{"bad k2:" + secretK2 + " here", "k2:" + secretK2 + ",k1:" + secretK1, "bad k2:xxxxx here"},
		{"bare " + secretK1, secretK1, "bare xxxxx"},
		{`record key "k1": too short`, "k1:abcdef", `record key "k1": too short`},
	} {
		if got := redactSecrets(c.msg, c.raw); got != c.want {
			t.Errorf("redactSecrets(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}
