// Package versions reads versions.txt, the list of the modules the idemkit
// repository publishes and the version they are released at in lockstep,
// and builds a file-based module proxy from them.
//
// versions.txt holds one directive a line; '#' starts a comment:
//
//	version v0.1.0
//	module .
//	module gin
//
// A module is named by its directory, relative to the repository root.
package versions

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

// Module is a published module of the repository.
type Module struct {
	Dir   string // relative to the repository root, "." for the root
	Path  string // module path, from its go.mod
	GoMod []byte
	File  *modfile.File
}

// Tag is the module's release tag at version v: v for the root module,
// DIR/v for a nested one.
func (m Module) Tag(v string) string {
	if m.Dir == "." {
		return v
	}
	return m.Dir + "/" + v
}

// Set is the content of a versions file.
type Set struct {
	Repo    string
	Version string
	Modules []Module
}

// Load reads the versions file and the go.mod of every module it names.
func Load(repo, file string) (*Set, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s := &Set{Repo: repo}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) == 2 && f[0] == "version" && s.Version == "":
			s.Version = f[1]
		case len(f) == 2 && f[0] == "module":
			dir := filepath.ToSlash(filepath.Clean(f[1]))
			gomod := filepath.Join(repo, filepath.FromSlash(dir), "go.mod")
			b, err := os.ReadFile(gomod)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", file, n, err)
			}
			mf, err := modfile.Parse(gomod, b, nil)
			if err != nil {
				return nil, err
			}
			if mf.Module == nil {
				return nil, fmt.Errorf("%s: no module directive", gomod)
			}
			s.Modules = append(s.Modules, Module{Dir: dir, Path: mf.Module.Mod.Path, GoMod: b, File: mf})
		default:
			return nil, fmt.Errorf("%s:%d: want \"version vX.Y.Z\" (once) or \"module DIR\", have %q", file, n, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !semver.IsValid(s.Version) || semver.Build(s.Version) != "" {
		return nil, fmt.Errorf("%s: version %q is not a release version (vX.Y.Z[-pre])", file, s.Version)
	}
	if len(s.Modules) == 0 {
		return nil, fmt.Errorf("%s: no modules", file)
	}
	return s, nil
}

// Check reports whether the published modules resolve for a user who has
// nothing but the proxy: every requirement of one published module on
// another names the released version (never v0.0.0), no published module
// requires an unpublished module of the repository, and the commands
// (cmd/...), which users `go install pkg@version`, have no replace
// directive. Replace directives of the libraries are allowed: users ignore
// them. Every nested module carries a copy of the root LICENSE.
func (s *Set) Check() error {
	published := map[string]bool{}
	root := ""
	for _, m := range s.Modules {
		published[m.Path] = true
		if m.Dir == "." {
			root = m.Path
		}
	}
	var errs []string
	for _, m := range s.Modules {
		if err := module.Check(m.Path, s.Version); err != nil {
			errs = append(errs, err.Error())
		}
		for _, r := range m.File.Require {
			p := r.Mod.Path
			if root == "" || (p != root && !strings.HasPrefix(p, root+"/")) {
				continue
			}
			switch {
			case !published[p]:
				errs = append(errs, fmt.Sprintf("%s requires %s, which is not published (not in versions.txt)", m.Path, p))
			case r.Mod.Version != s.Version:
				errs = append(errs, fmt.Sprintf("%s requires %s@%s, want the release version %s", m.Path, p, r.Mod.Version, s.Version))
			}
		}
		if err := s.checkLicense(m); err != nil {
			errs = append(errs, err.Error())
		}
		if strings.HasPrefix(m.Dir, "cmd/") && len(m.File.Replace) > 0 {
			errs = append(errs, fmt.Sprintf("%s has replace directives: go install %s@%s would refuse it", m.Path, m.Path, s.Version))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("versions.txt: %s", strings.Join(errs, "\n\t"))
	}
	return nil
}

// checkLicense requires a copy of the root LICENSE in every nested
// module: a module zip holds only its own directory, and pkg.go.dev hides
// the documentation of a module whose zip carries no licence it
// recognises.
func (s *Set) checkLicense(m Module) error {
	root, err := os.ReadFile(filepath.Join(s.Repo, "LICENSE"))
	if err != nil {
		return fmt.Errorf("the repository has no LICENSE: %v", err)
	}
	if m.Dir == "." {
		return nil
	}
	own, err := os.ReadFile(filepath.Join(s.Repo, filepath.FromSlash(m.Dir), "LICENSE"))
	if err != nil || !bytes.Equal(own, root) {
		return fmt.Errorf("%s: %s/LICENSE is missing or differs from the root LICENSE (cp LICENSE %s/)", m.Path, m.Dir, m.Dir)
	}
	return nil
}

// WriteProxy writes a file-based module proxy holding every module of s at
// s.Version, made from the modules' directories as they are on disk.
func (s *Set) WriteProxy(dir string) error {
	info := fmt.Sprintf("{\"Version\":%q,\"Time\":%q}\n", s.Version, time.Now().UTC().Format(time.RFC3339))
	for _, m := range s.Modules {
		mv := module.Version{Path: m.Path, Version: s.Version}
		ep, err := module.EscapePath(m.Path)
		if err != nil {
			return err
		}
		ev, err := module.EscapeVersion(s.Version)
		if err != nil {
			return err
		}
		at := filepath.Join(dir, filepath.FromSlash(ep), "@v")
		if err := os.MkdirAll(at, 0o777); err != nil {
			return err
		}
		files := map[string][]byte{
			"list":       []byte(s.Version + "\n"),
			ev + ".info": []byte(info),
			ev + ".mod":  m.GoMod,
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(at, name), b, 0o666); err != nil {
				return err
			}
		}
		z, err := os.Create(filepath.Join(at, ev+".zip"))
		if err != nil {
			return err
		}
		err = zip.CreateFromDir(z, mv, filepath.Join(s.Repo, filepath.FromSlash(m.Dir)))
		if cerr := z.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %v", mv, err)
		}
	}
	return nil
}
