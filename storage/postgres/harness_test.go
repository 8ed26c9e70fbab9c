package idempg_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Without server binaries the tests skip, except with CI=true, where the
// test binary fails: CI must never pass by testing nothing.
func TestHarnessFailsInCIWithoutBinaries(t *testing.T) {
	if os.Getenv(childEnv) != "" || srv == nil {
		t.Skip("needs the parent test binary and a server")
	}
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConformance$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_BIN="+t.TempDir(), "CI="+ci)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("true")
	if err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("CI=true without binaries: err %v, output:\n%s", err, out)
	}
	out, err = run("")
	if err != nil || !strings.Contains(out, "SKIP") {
		t.Fatalf("without binaries outside CI: err %v, want skips; output:\n%s", err, out)
	}
}
