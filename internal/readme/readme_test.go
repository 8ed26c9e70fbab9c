// Package readme checks that every Go block of the root README.md compiles
// against the working tree.
//
// Convention, for whoever edits the README:
//
//   - A ```go block that starts with "package" is a whole file and is built
//     as it is.
//   - Any other block is a fragment. Its leading import lines stay imports;
//     the rest is kept as top-level declarations if it parses as such
//     (a func, a var), and otherwise wrapped in a function body, where each
//     variable it declares at the top level gets a "_ = name" guard so that
//     an example may leave a result unused.
//   - Names a block uses without defining (a handler h, a ctx, a store, a
//     third-party package outside the module graph) come from a hidden HTML
//     comment on the lines right before the fence, holding Go source (see
//     the example below). Its imports join the block's; its declarations sit
//     beside the block in the same package. Everything is exact: an unused
//     import is an error, so the comment cannot go stale unnoticed.
//
// A hidden comment, as GitHub does not render it:
//
//	<!-- readme:go
//	import "github.com/gin-gonic/gin"
//	var r *gin.Engine
//	var h gin.HandlerFunc
//	-->
//	```go
//	r.POST("/orders", h)
//	```
//
// Each block becomes one package in a temporary directory beside this file
// (its name starts with "_", so "./..." patterns never see it), and one
// "go vet" type-checks them all through go.work, so imports resolve to the
// working tree: adapters, stores and drivers of every workspace module.
// Generated files carry //line directives, so every error names README.md and
// the line in it. wantBlocks pins the number of blocks: adding or removing one
// means updating it, and a parsing mistake cannot make the test pass on
// nothing. With GOWORK=off the test skips (the root module does not require
// the frameworks); `make test` runs it through the workspace.
//
// The test lives in the root module, not in examples, because README.md is
// inside the root module's directory: go test's cache rechecks the files a
// test reads only inside the test's own module, so from examples a changed
// README would still report a cached "ok".
package readme

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// wantBlocks is the number of ```go blocks in README.md.
const wantBlocks = 22

const readmePath = "../../README.md"

type block struct {
	line    int    // README line of the first line of code (after the fence)
	code    string // the block's code
	ctxLine int    // README line of the hidden comment's first line of code, 0 if none
	ctx     string // the hidden comment's Go source
}

var fenceGo = regexp.MustCompile("^```go\\s*$")

// parseBlocks returns README's ```go blocks, each with the hidden
// "<!-- readme:go ... -->" comment that ends on the line before its fence.
func parseBlocks(t *testing.T, readme string) []block {
	t.Helper()
	lines := strings.Split(readme, "\n")
	var blocks []block
	for i := 0; i < len(lines); i++ {
		if !fenceGo.MatchString(lines[i]) {
			continue
		}
		b := block{line: i + 2}
		end := -1
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				end = j
				break
			}
		}
		if end < 0 {
			t.Fatalf("README.md:%d: ```go block is never closed", i+1)
		}
		b.code = strings.Join(lines[i+1:end], "\n")
		if i > 0 && strings.TrimSpace(lines[i-1]) == "-->" {
			for j := i - 2; j >= 0; j-- {
				if strings.TrimSpace(lines[j]) == "<!-- readme:go" {
					b.ctxLine = j + 2
					b.ctx = strings.Join(lines[j+1:i-1], "\n")
					break
				}
				if strings.Contains(lines[j], "<!--") || strings.Contains(lines[j], "-->") {
					break
				}
			}
		}
		blocks = append(blocks, b)
		i = end
	}
	return blocks
}

// split parses src (Go source without a package clause) and returns its
// import declarations and the rest, as source text. declsOK says whether the
// rest parses as top-level declarations.
func split(src string) (imports, rest string, restLine int, declsOK bool, err error) {
	const head = "package p\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", head+src, parser.ImportsOnly)
	if err != nil {
		return "", "", 0, false, err
	}
	off := len(head)
	if n := len(f.Decls); n > 0 {
		off = fset.Position(f.Decls[n-1].End()).Offset
	}
	full := head + src
	imports = full[len(head):off]
	rest = full[off:]
	restLine = strings.Count(full[len(head):off], "\n") // lines of src before rest
	_, perr := parser.ParseFile(token.NewFileSet(), "", head+rest, parser.SkipObjectResolution)
	return imports, rest, restLine, perr == nil, nil
}

// generate returns the files of b's package.
func generate(b block, readmeAbs string) (map[string]string, error) {
	at := func(line int) string { return fmt.Sprintf("\n//line %s:%d\n", readmeAbs, line) }
	files := map[string]string{}

	ctxImports, ctxDecls, ctxRestLine := "", "", 0
	if b.ctx != "" {
		imp, rest, rl, ok, err := split(b.ctx)
		if err != nil || !ok {
			return nil, fmt.Errorf("README.md:%d: hidden readme:go comment does not parse as Go declarations: %v", b.ctxLine, err)
		}
		ctxImports, ctxDecls, ctxRestLine = imp, rest, rl
	}

	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		files["block.go"] = at(b.line) + b.code + "\n"
		if b.ctx != "" {
			f, err := parser.ParseFile(token.NewFileSet(), "", b.code, parser.PackageClauseOnly)
			if err != nil {
				return nil, fmt.Errorf("README.md:%d: %v", b.line, err)
			}
			files["context.go"] = "package " + f.Name.Name + "\n" +
				at(b.ctxLine) + ctxImports + at(b.ctxLine+ctxRestLine) + ctxDecls + "\n"
		}
		return files, nil
	}

	imp, rest, restLine, declsOK, err := split(b.code)
	if err != nil {
		// Not even the imports parse: hand the block to the compiler as
		// statements so that it reports the error at the right line.
		imp, rest, restLine, declsOK = "", b.code, 0, false
	}
	var src strings.Builder
	src.WriteString("package block\n")
	if ctxImports != "" {
		src.WriteString(at(b.ctxLine) + ctxImports)
	}
	if imp != "" {
		src.WriteString(at(b.line) + imp)
	}
	if ctxDecls != "" {
		src.WriteString(at(b.ctxLine+ctxRestLine) + ctxDecls)
	}
	if declsOK {
		src.WriteString(at(b.line+restLine) + rest + "\n")
	} else {
		src.WriteString("\nfunc _() {" + at(b.line+restLine) + rest + "\n" + guards(rest) + "}\n")
	}
	files["block.go"] = src.String()
	return files, nil
}

// guards returns "_ = name" for every variable the statements declare at
// their top level, so that an example may leave a result unused.
func guards(stmts string) string {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+stmts+"\n}", parser.SkipObjectResolution)
	if err != nil {
		return "" // the compiler will report it
	}
	var names []string
	for _, s := range f.Decls[0].(*ast.FuncDecl).Body.List {
		switch s := s.(type) {
		case *ast.AssignStmt:
			if s.Tok == token.DEFINE {
				for _, l := range s.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
						names = append(names, id.Name)
					}
				}
			}
		case *ast.DeclStmt:
			if g, ok := s.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, sp := range g.Specs {
					for _, id := range sp.(*ast.ValueSpec).Names {
						if id.Name != "_" {
							names = append(names, id.Name)
						}
					}
				}
			}
		}
	}
	var g strings.Builder
	for _, n := range names {
		g.WriteString("_ = " + n + "\n")
	}
	return g.String()
}

func goWorkspace(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestReadmeGoBlocksCompile(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	if w := goWorkspace(t); w == "" || w == "off" {
		// README blocks use modules the root module does not require
		// (gin, echo, fiber, redis, ...); `make test`'s workspace run
		// (go test work) checks them.
		t.Skip("README blocks are checked through go.work; GOWORK is off")
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readmeAbs, err := filepath.Abs(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseBlocks(t, string(raw))
	if len(blocks) != wantBlocks {
		t.Fatalf("README.md has %d ```go blocks, want %d: update wantBlocks when adding or removing one", len(blocks), wantBlocks)
	}

	dir, err := os.MkdirTemp(".", "_gen")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	byDir := map[string]block{}
	var pkgs []string
	for _, b := range blocks {
		files, err := generate(b, readmeAbs)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("line%04d", b.line-1)
		byDir[name] = b
		pkgs = append(pkgs, "./"+filepath.ToSlash(filepath.Join(dir, name)))
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for fn, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name, fn), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	cmd := exec.Command("go", append([]string{"vet"}, pkgs...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		// Name each failing block by its fence's line, then the tool's own
		// output, whose positions are README.md lines (//line directives).
		var fences []int
		for name, b := range byDir {
			if strings.Contains(out.String(), "/"+name+"\n") || strings.Contains(out.String(), "/"+name+" ") {
				fences = append(fences, b.line-1)
			}
		}
		sort.Ints(fences)
		var failed []string
		for _, l := range fences {
			failed = append(failed, fmt.Sprintf("README.md:%d", l))
		}
		t.Fatalf("README Go blocks do not build (%v): the blocks at %s\n%s", err, strings.Join(failed, ", "), out.String())
	}
}
