#!/usr/bin/env bash
# Runs a command in a copy of a module of this repository, resolving its
# idemkit requirements through a file proxy built from the working tree
# (proxyenv.sh), outside go.work: the GOWORK=off check of a module that has
# no replace directive (cmd/idemctl, which `go install pkg@version` must
# accept) and requires its siblings at the release version, which exists
# nowhere until it is tagged.
#
#	scripts/proxyrun.sh DIR CMD [ARG...]    run CMD in the copy (-mod=mod)
#	scripts/proxyrun.sh -tidy-check DIR     go mod tidy there, then diff go.mod
#	                                        and go.sum (idemkit lines aside)
#
# The copy takes go.sum entries for the idemkit modules (-mod=mod); the
# repository's go.sum never holds them, since the zips they hash change with
# every commit until the release.
set -euo pipefail
tidy=0
if [ "${1:-}" = -tidy-check ]; then tidy=1; shift; fi
[ $# -ge 1 ] || { echo "usage: $0 DIR CMD [ARG...] | $0 -tidy-check DIR" >&2; exit 2; }
dir=$(cd "$1" && pwd); shift
[ "$tidy" = 1 ] || [ $# -ge 1 ] || { echo "$0: no command" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/idemkit-proxyrun.XXXXXX")
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/proxyenv.sh"
proxy_setup "$work"

# Copy the module's files (git's view when there is one: no ignored build
# output).
mkdir "$work/mod"
if git -C "$dir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$dir" && git ls-files -co --exclude-standard . | tar -cf - -T -) | tar -xf - -C "$work/mod"
else
	cp -R "$dir/." "$work/mod"
fi
cd "$work/mod"
if [ "$tidy" = 1 ]; then
	GOFLAGS="$GOFLAGS -mod=mod" "$GO" mod tidy
	strip() { grep -v "^$IDEMKIT_ROOT[ /]" "$1" || true; }
	diff -u "$dir/go.mod" go.mod
	diff -u <(strip "$dir/go.sum") <(strip go.sum)
	echo "ok: $dir: go.mod and go.sum are tidy (idemkit modules from the file proxy at $IDEMKIT_VERSION)"
else
	GOFLAGS="$GOFLAGS -mod=mod" "$@"
fi
