package versions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProxy(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{
		"versions.txt":       "# lockstep\nversion v1.2.3\nmodule .\nmodule lib # a library\nmodule cmd/tool\n",
		"go.mod":             "module example.com/r\n\ngo 1.25.0\n",
		"r.go":               "package r\n",
		"lib/go.mod":         "module example.com/r/lib\n\ngo 1.25.0\n\nrequire example.com/r v1.2.3\n\nreplace example.com/r => ../\n",
		"lib/lib.go":         "package lib\n",
		"lib/test/go.mod":    "module example.com/r/lib/test\n\ngo 1.25.0\n",
		"lib/test/x_test.go": "package test\n",
		"cmd/tool/go.mod":    "module example.com/r/cmd/tool\n\ngo 1.25.0\n\nrequire example.com/r/lib v1.2.3\n",
		"cmd/tool/main.go":   "package main\n\nfunc main() {}\n",
		"LICENSE":            "MIT\n",
		"lib/LICENSE":        "MIT\n",
		"cmd/tool/LICENSE":   "MIT\n",
	})
	s, err := Load(repo, filepath.Join(repo, "versions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "v1.2.3" || len(s.Modules) != 3 || s.Modules[1].Path != "example.com/r/lib" {
		t.Fatalf("Load: %+v", s)
	}
	if got := s.Modules[0].Tag(s.Version) + " " + s.Modules[2].Tag(s.Version); got != "v1.2.3 cmd/tool/v1.2.3" {
		t.Errorf("tags %q", got)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	px := t.TempDir()
	if err := s.WriteProxy(px); err != nil {
		t.Fatal(err)
	}
	at := filepath.Join(px, "example.com", "r", "lib", "@v")
	for _, f := range []string{"list", "v1.2.3.info", "v1.2.3.mod", "v1.2.3.zip"} {
		if _, err := os.Stat(filepath.Join(at, f)); err != nil {
			t.Error(err)
		}
	}
	cf, err := zip.CheckZip(module.Version{Path: "example.com/r/lib", Version: "v1.2.3"}, filepath.Join(at, "v1.2.3.zip"))
	if err != nil {
		t.Fatal(err)
	}
	// The nested test module stays out of lib's zip; its LICENSE is in.
	if got := strings.Join(cf.Valid, " "); got != "example.com/r/lib@v1.2.3/LICENSE example.com/r/lib@v1.2.3/go.mod example.com/r/lib@v1.2.3/lib.go" {
		t.Errorf("lib zip holds %q, want LICENSE go.mod lib.go", got)
	}
}

func TestCheck(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{
		"versions.txt":     "version v0.1.0\nmodule .\nmodule gin\nmodule cmd/ctl\n",
		"go.mod":           "module example.com/r\n\ngo 1.25.0\n",
		"gin/go.mod":       "module example.com/r/gin\n\ngo 1.25.0\n\nrequire example.com/r v0.0.0\n\nreplace example.com/r => ../\n",
		"cmd/ctl/go.mod":   "module example.com/r/cmd/ctl\n\ngo 1.25.0\n\nrequire (\n\texample.com/r v0.1.0\n\texample.com/r/redistest v0.1.0\n)\n\nreplace example.com/r => ../../\n",
		"redistest/go.mod": "module example.com/r/redistest\n\ngo 1.25.0\n",
		"LICENSE":          "MIT\n",
		"gin/LICENSE":      "MIT, but changed\n",
	})
	s, err := Load(repo, filepath.Join(repo, "versions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check()
	if err == nil {
		t.Fatal("Check accepted v0.0.0, an unpublished requirement and a command's replace")
	}
	for _, want := range []string{
		"example.com/r/gin requires example.com/r@v0.0.0, want the release version v0.1.0",
		"example.com/r/cmd/ctl requires example.com/r/redistest, which is not published",
		"example.com/r/cmd/ctl has replace directives",
		"example.com/r/gin: gin/LICENSE is missing or differs",
		"example.com/r/cmd/ctl: cmd/ctl/LICENSE is missing or differs",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v\nlacks %q", err, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for name, content := range map[string]string{
		"no version":  "module .\n",
		"bad version": "version 0.1\nmodule .\n",
		"no modules":  "version v0.1.0\n",
		"unknown":     "version v0.1.0\nmodules .\n",
		"two":         "version v0.1.0\nversion v0.2.0\nmodule .\n",
		"no go.mod":   "version v0.1.0\nmodule nowhere\n",
	} {
		repo := t.TempDir()
		write(t, repo, map[string]string{"versions.txt": content, "go.mod": "module example.com/r\n"})
		if _, err := Load(repo, filepath.Join(repo, "versions.txt")); err == nil {
			t.Errorf("%s: Load accepted %q", name, content)
		}
	}
}
