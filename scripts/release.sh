#!/usr/bin/env bash
# Release idemkit: every published module at one version, tagged in
# lockstep (SPEC §2).
#
#	scripts/release.sh [-n] [-edit-only] vX.Y.Z
#
# 1. sets the version in versions.txt;
# 2. in every module of go.work (published or not), sets each requirement
#    on a module of this repository to vX.Y.Z (go mod edit -require), so
#    that no go.mod names v0.0.0 or an older sibling;
# 3. checks: versions.txt's rules (internal/tools/versions.Check), go vet
#    of the workspace, `go mod tidy -diff` of every module that keeps
#    replace directives, and, for modules without them (cmd/idemctl), tidy
#    against a file proxy built from this tree at vX.Y.Z;
# 4. commits "release vX.Y.Z" and creates an annotated tag per published
#    module: vX.Y.Z for the root, DIR/vX.Y.Z for the others.
#
# It never pushes; it prints the push command. -n (dry run) prints what it
# would do and changes nothing. -edit-only stops after the checks, without
# commit or tags (to review the change first). Run `make test` before.
set -euo pipefail

usage() { echo "usage: $0 [-n] [-edit-only] vX.Y.Z" >&2; exit 2; }

dry=0 edit_only=0 version=""
for a in "$@"; do
	case "$a" in
	-n|--dry-run) dry=1 ;;
	-edit-only|--edit-only) edit_only=1 ;;
	-*) usage ;;
	*) [ -z "$version" ] || usage; version="$a" ;;
	esac
done
[ -n "$version" ] || usage
if ! [[ "$version" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "release: $version is not a semantic version vX.Y.Z[-pre]" >&2
	exit 2
fi

cd "$(git rev-parse --show-toplevel)"
GO="${GO:-go}"
root=$(GOWORK=off "$GO" list -m)

# run prints a command, and runs it unless this is a dry run.
run() {
	printf '+ %s\n' "$*"
	[ "$dry" = 1 ] || "$@"
}

# run_in DIR CMD... is run for a command in DIR, outside go.work.
run_in() {
	local d="$1"; shift
	printf '+ (cd %s && GOWORK=off %s)\n' "$d" "$*"
	[ "$dry" = 1 ] || (cd "$d" && GOWORK=off "$@")
}

# published prints the directories of the published modules.
published() { awk '!/^#/ && $1 == "module" { print $2 }' versions.txt; }

# tag_of DIR prints the module's tag.
tag_of() { if [ "$1" = . ]; then echo "$version"; else echo "$1/$version"; fi; }

# sibling_requires DIR prints the module paths of this repository that
# DIR's go.mod requires.
sibling_requires() {
	(cd "$1" && GOWORK=off "$GO" mod edit -json) | tr -d ' \t\n' |
		grep -o '"Path":"'"$root"'[^"]*","Version":"[^"]*"' |
		sed 's/^"Path":"\([^"]*\)".*/\1/' || true
}

if [ "$edit_only" = 0 ] && [ -n "$(git status --porcelain)" ]; then
	if [ "$dry" = 1 ]; then
		echo "release: warning: the working tree is not clean (a real run refuses)" >&2
	else
		echo "release: the working tree is not clean; commit or stash first" >&2
		exit 1
	fi
fi
for d in $(published); do
	t=$(tag_of "$d")
	if git rev-parse -q --verify "refs/tags/$t" >/dev/null; then
		echo "release: tag $t exists already" >&2
		exit 1
	fi
done

echo "== versions.txt: version $version"
if [ "$dry" = 1 ]; then
	echo "+ set 'version $(awk '$1 == "version" { print $2 }' versions.txt)' to 'version $version' in versions.txt"
else
	sed -i.bak "s/^version .*/version $version/" versions.txt && rm versions.txt.bak
fi

echo "== go.mod: sibling requirements at $version"
modules=$("$GO" work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
for m in $modules; do
	reqs=$(sibling_requires "$m")
	[ -n "$reqs" ] || continue
	args=()
	for p in $reqs; do args+=("-require=$p@$version"); done
	run_in "$m" "$GO" mod edit "${args[@]}"
done

echo "== checks"
run "$GO" run ./internal/tools/modproxy -o "${TMPDIR:-/tmp}/idemkit-release-proxy-$$"
run rm -rf "${TMPDIR:-/tmp}/idemkit-release-proxy-$$"
run "$GO" vet work
for m in $modules; do
	if [ -z "$(sibling_requires "$m")" ] || (cd "$m" && GOWORK=off "$GO" mod edit -json) | grep -q '"Replace": \['; then
		run_in "$m" "$GO" mod tidy -diff
	else
		# No replace (cmd/idemctl): its siblings at $version resolve only
		# through a proxy that has them, which proxyrun.sh builds.
		run scripts/proxyrun.sh -tidy-check "$m"
	fi
done

if [ "$edit_only" = 1 ]; then
	echo "== -edit-only: no commit, no tags"
	exit 0
fi

echo "== commit and tags"
if [ "$dry" = 1 ] || [ -n "$(git status --porcelain)" ]; then
	run git commit -qam "release $version: every published module at $version (versions.txt, sibling requirements)"
fi
tags=()
for d in $(published); do
	t=$(tag_of "$d")
	tags+=("$t")
	run git tag -a "$t" -m "idemkit $(cd "$d" && GOWORK=off "$GO" list -m) $version"
done
echo "== not pushed; to publish:"
echo "git push origin HEAD ${tags[*]}"
