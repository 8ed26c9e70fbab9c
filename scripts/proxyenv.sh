# Sourced by proxyrun.sh and consumer.sh: builds a file-based module proxy
# of the published modules from this working tree (internal/tools/modproxy,
# at the version of versions.txt) and sets the environment of a user who
# resolves them from a proxy: no go.work, no replace directives.
#
#	proxy_setup WORKDIR
#
# WORKDIR (a fresh temporary directory) receives the proxy and a module
# cache of its own: the idemkit modules at the release version change with
# every commit until they are tagged, so they must never enter the shared
# module cache, where a stale copy would shadow the next build. The shared
# cache still serves every other module (its download directory is a file
# proxy too), so a warm machine downloads nothing; -trimpath keeps the
# build cache valid across the throwaway module caches.
#
# Exports IDEMKIT_ROOT (module path of the root), IDEMKIT_VERSION,
# IDEMKIT_PROXY, and GOWORK, GOPROXY, GONOSUMDB, GOMODCACHE, GOFLAGS,
# GOTOOLCHAIN.

proxy_setup() {
	local work="$1" repo shared upstream
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	GO="${GO:-go}"
	shared=$("$GO" env GOMODCACHE)/cache/download
	upstream=$("$GO" env GOPROXY)
	IDEMKIT_ROOT=$(cd "$repo" && GOWORK=off "$GO" list -m)
	IDEMKIT_VERSION=$(awk '!/^#/ && $1 == "version" { print $2 }' "$repo/versions.txt")
	IDEMKIT_PROXY="$work/proxy"
	(cd "$repo" && "$GO" run ./internal/tools/modproxy ${MODPROXY_FLAGS:-} -o "$IDEMKIT_PROXY" >/dev/null)
	export IDEMKIT_ROOT IDEMKIT_VERSION IDEMKIT_PROXY
	export GOWORK=off
	export GOPROXY="file://$IDEMKIT_PROXY,file://$shared,$upstream"
	# The idemkit modules are not in the checksum database (not published
	# yet, or published with other contents than this working tree's).
	export GONOSUMDB="$IDEMKIT_ROOT${GONOSUMDB:+,$GONOSUMDB}"
	export GOMODCACHE="$work/modcache"
	export GOFLAGS="${GOFLAGS:-} -modcacherw -trimpath"
	export GOTOOLCHAIN=local
}
