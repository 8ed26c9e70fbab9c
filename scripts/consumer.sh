#!/usr/bin/env bash
# The consumer test (make consumer): proves that the published modules
# resolve and work for a user on the day they are tagged. In an empty
# module outside the repository, without go.work and without replace
# directives, with the idemkit modules served by a file proxy built from
# this working tree at the version of versions.txt (proxyenv.sh) and every
# other module by the usual proxy, it:
#
#   1. go gets gin, echo, echov5, fiber, fiberv3, storage/redis,
#      storage/postgres, telemetry/prometheus, telemetry/otel and xxh3 at
#      that version, then builds and runs testdata/consumer (one route per
#      framework, a replay each, the Redis and PostgreSQL stores, both
#      telemetry drivers, the XXH3 hash);
#   2. checks with go mod graph that no test-only dependency of idemkit
#      (miniredis, gopher-lua, the OTel SDK) is in the user's module graph;
#   3. go installs cmd/idemctl at that version into a temporary GOBIN and
#      runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/idemkit-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
. "$here/proxyenv.sh"
proxy_setup "$work"
v=$IDEMKIT_VERSION
echo "consumer: idemkit $v from file://$IDEMKIT_PROXY"

# quiet runs a go command, showing its output only when it fails (without
# the "go: downloading" lines of the throwaway module cache).
quiet() {
	"$@" > "$work/log" 2>&1 || {
		local code=$?
		echo "consumer: FAIL: $*" >&2
		grep -v '^go: downloading' "$work/log" >&2
		return $code
	}
}

mkdir "$work/app"
cd "$work/app"
cp "$here/testdata/consumer/main.go" .
quiet "$GO" mod init example.com/consumer
echo "consumer: go get gin echo echov5 fiber fiberv3 storage/redis storage/postgres telemetry/prometheus telemetry/otel xxh3 @$v"
quiet "$GO" get \
	"$IDEMKIT_ROOT/gin@$v" \
	"$IDEMKIT_ROOT/echo@$v" \
	"$IDEMKIT_ROOT/echov5@$v" \
	"$IDEMKIT_ROOT/fiber@$v" \
	"$IDEMKIT_ROOT/fiberv3@$v" \
	"$IDEMKIT_ROOT/storage/redis@$v" \
	"$IDEMKIT_ROOT/storage/postgres@$v" \
	"$IDEMKIT_ROOT/telemetry/prometheus@$v" \
	"$IDEMKIT_ROOT/telemetry/otel@$v" \
	"$IDEMKIT_ROOT/xxh3@$v"
quiet "$GO" mod tidy
grep "^	$IDEMKIT_ROOT" go.mod
if grep -q '^replace' go.mod; then echo "consumer: go.mod has a replace directive" >&2; exit 1; fi
quiet "$GO" build -o "$work/consumer" .
"$work/consumer"

echo "consumer: test-only dependencies in the module graph"
"$GO" mod graph > "$work/graph"
bad=$(grep -E '(^| )(github\.com/alicebob/miniredis|github\.com/yuin/gopher-lua|go\.opentelemetry\.io/otel/sdk|github\.com/go-chi/chi|github\.com/gorilla/mux)' "$work/graph" || true)
if [ -n "$bad" ]; then
	echo "consumer: FAIL: test-only dependencies reach the consumer's module graph:" >&2
	echo "$bad" >&2
	exit 1
fi
if grep -E " $IDEMKIT_ROOT(/[^@ ]*)?@v0\.0\.0" "$work/graph" >&2; then
	echo "consumer: FAIL: the graph holds idemkit modules at v0.0.0 (above)" >&2
	exit 1
fi
echo "consumer: none (miniredis, gopher-lua, go.opentelemetry.io/otel/sdk, and chi and gorilla/mux of nethttp/routertest)"

echo "consumer: go install $IDEMKIT_ROOT/cmd/idemctl@$v"
mkdir "$work/bin"
(cd "$work" && GOBIN="$work/bin" quiet "$GO" install "$IDEMKIT_ROOT/cmd/idemctl@$v")
set +e
"$work/bin/idemctl" -h > "$work/help" 2>&1
code=$?
set -e
# -h prints the usage and exits 0 or 2 (flag.ErrHelp); anything else, or
# no usage (with both stores' flags), is a broken binary.
if { [ "$code" != 0 ] && [ "$code" != 2 ]; } || ! grep -q 'inspect' "$work/help" || ! grep -q -- '-postgres URL' "$work/help"; then
	echo "consumer: FAIL: idemctl -h exited $code:" >&2
	cat "$work/help" >&2
	exit 1
fi
echo "consumer: idemctl -h: exit $code, $(wc -l < "$work/help") lines of usage"
echo "consumer: PASS"
