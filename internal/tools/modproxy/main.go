// Command modproxy builds a file-based Go module proxy (GOPROXY=file://DIR)
// that serves every module published by the idemkit repository, made from
// the working tree at the version versions.txt names:
//
//	DIR/<module path>/@v/list
//	DIR/<module path>/@v/<version>.info
//	DIR/<module path>/@v/<version>.mod
//	DIR/<module path>/@v/<version>.zip
//
// The zips are made by golang.org/x/mod/zip.CreateFromDir, which applies
// the go command's rules (nested modules, vendor directories and VCS
// directories are left out). The consumer test (make consumer) resolves
// the published modules from this proxy exactly as a user resolves them
// from proxy.golang.org, without go.work and without replace directives.
//
// Usage:
//
//	go run ./internal/tools/modproxy [-repo DIR] [-versions FILE] [-check=false] -o PROXYDIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/idemkit/idempotency/internal/tools/versions"
)

func main() {
	repo := flag.String("repo", ".", "repository root")
	vfile := flag.String("versions", "", "versions file (default REPO/versions.txt)")
	out := flag.String("o", "", "proxy directory to write (required)")
	check := flag.Bool("check", true, "refuse modules that would not resolve for a user (see versions.Set.Check)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *vfile == "" {
		*vfile = filepath.Join(*repo, "versions.txt")
	}
	set, err := versions.Load(*repo, *vfile)
	if err == nil && *check {
		err = set.Check()
	}
	if err == nil {
		err = set.WriteProxy(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
	for _, m := range set.Modules {
		fmt.Printf("%s@%s\n", m.Path, set.Version)
	}
}
