# idemkit: one root module plus one module per framework, store and driver.
# `make test` is what CI runs (.ci/run): formatting, vet and race tests of
# every module through go.work, then each module on its own go.mod, then
# the consumer test (the published modules as a user gets them).

GO      ?= go
MODULES := $(shell $(GO) work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
RACE    ?= -race

.PHONY: test fmt-check vet test-work test-modules consumer release-dry-run fuzz-seeds bench bench-e2e bench-all charts demo staticcheck quick

test: fmt-check vet test-work test-modules consumer

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet work

# Every package of every module in go.work, with the race detector. The
# fuzz targets' seed corpora run here as ordinary tests.
test-work:
	$(GO) test $(RACE) -count=1 work

# Each module alone, so that its own go.mod is honest (no go.work help).
# A module that requires its siblings without a replace directive
# (cmd/idemctl: `go install pkg@version` refuses replaces) needs them at the
# release version of versions.txt, which no proxy has before the tag: it
# runs in a temporary copy that resolves them through a file proxy built
# from this tree (scripts/proxyrun.sh, -mod=mod), so that its go.sum never
# holds hashes of untagged idemkit zips.
test-modules:
	@set -e; for m in $(MODULES); do \
		if ! grep -q '^replace' $$m/go.mod && grep -Eq '(^|[[:space:]])github.com/idemkit/idempotency(/[^ ]*)? v' $$m/go.mod; then \
			echo "== GOWORK=off $$m (a copy; idemkit modules from a file proxy of this tree)"; \
			scripts/proxyrun.sh $$m sh -c '$(GO) vet ./... && $(GO) test $(RACE) -count=1 ./...'; \
		else \
			echo "== GOWORK=off $$m"; \
			(cd $$m && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test $(RACE) -count=1 ./...); \
		fi; \
	done

# The published modules as a user gets them (issue 13): an empty module
# outside the repository go-gets them through a file proxy of this tree at
# the version of versions.txt (no go.work, no replace), builds and runs an
# app on gin, echo and fiber, checks its module graph for test-only
# dependencies, and go-installs cmd/idemctl. See scripts/consumer.sh.
consumer:
	scripts/consumer.sh

# What scripts/release.sh would do for the next patch version.
release-dry-run:
	scripts/release.sh -n $$(awk '$$1 == "version" { split($$2, v, "."); print v[1] "." v[2] "." v[3] + 1 }' versions.txt)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest work

# The SPEC §7 benchmarks, six runs each, summarised by benchstat
# (go install golang.org/x/perf/cmd/benchstat@latest). BENCHMARKS.md
# records their output. Each benchmark checks every response it measures
# (Idempotency-Status, handler runs) and fails if the middleware bypassed
# itself, so a failure here is a broken measurement, not noise.
BENCHSTAT ?= $(shell command -v benchstat || echo $(HOME)/go/bin/benchstat)
bench:
	@mkdir -p bench
	$(GO) test -run='^$$' -bench=Fingerprint -benchmem -count=6 ./core/ > bench/fingerprint.txt || { cat bench/fingerprint.txt; exit 1; }
	cd gin && $(GO) test -run='^$$' -bench=BenchmarkGin -benchmem -count=6 . > ../bench/gin.txt || { cat ../bench/gin.txt; exit 1; }
	cd echo && $(GO) test -run='^$$' -bench=BenchmarkEcho -benchmem -count=6 . > ../bench/echo.txt || { cat ../bench/echo.txt; exit 1; }
	cd echov5 && $(GO) test -run='^$$' -bench=BenchmarkEchoV5 -benchmem -count=6 . > ../bench/echov5.txt || { cat ../bench/echov5.txt; exit 1; }
	cd fiber && $(GO) test -run='^$$' -bench=BenchmarkFiber -benchmem -count=6 . > ../bench/fiber.txt || { cat ../bench/fiber.txt; exit 1; }
	cd fiberv3 && $(GO) test -run='^$$' -bench=BenchmarkFiberV3 -benchmem -count=6 . > ../bench/fiberv3.txt || { cat ../bench/fiberv3.txt; exit 1; }
	$(GO) test -run='^$$' -bench=BenchmarkNetHTTP -benchmem -count=6 ./nethttp/ > bench/nethttp.txt || { cat bench/nethttp.txt; exit 1; }
	cd storage/postgres && $(GO) test -run='^$$' -bench=BenchmarkStore -benchmem -count=6 . > ../../bench/postgres.txt || { cat ../../bench/postgres.txt; exit 1; }
	@for f in fingerprint gin echo echov5 fiber fiberv3 nethttp postgres; do echo "== $$f"; $(BENCHSTAT) bench/$$f.txt; done

# SPEC §7 end to end, one command, one run (BENCHMARKS.md, "End to end"):
# builds the example servers, starts redis-server on a free loopback
# port, serves gin, echo and fiber bare (-bare: no idempotency
# middleware), on the memory store and on Redis, and measures first-heavy
# and replay-heavy load in interleaved rounds (3 x 5 s per run, about six
# minutes in all), checking every answer and the handler's executions.
# Prints req/s, p50, p99 and the ratios to bare against the targets;
# bench/e2e.txt is what the chart program reads. E2EFLAGS narrows or
# lengthens it, e.g. E2EFLAGS='-frameworks gin -rounds 5'.
E2EFLAGS ?=
bench-e2e:
	@mkdir -p bench
	@$(GO) run ./examples/load -suite e2e -out bench/e2e.txt $(E2EFLAGS) > bench/e2e-table.txt; \
		rc=$$?; cat bench/e2e-table.txt; exit $$rc

# Every benchmark family, raw `go test -bench` output in bench/ (the
# chart program's input), then the charts: the SPEC §7 microbenchmarks
# (make bench), the memory store at its bound, the Redis script server
# time and the waiter storm (both need redis-server), and the end-to-end
# suite. BENCHCOUNT runs of each (default 6).
BENCHCOUNT ?= 6
bench-all: bench
	$(GO) test -run='^$$' -bench=. -benchmem -count=$(BENCHCOUNT) ./storage/memory/ > bench/memory.txt || { cat bench/memory.txt; exit 1; }
	cd storage/redis/redistest && $(GO) test -run='^$$' -bench='ScriptCPU|Storm|Waiter' -benchtime=20000x -count=$(BENCHCOUNT) ./... > ../../../bench/redis.txt || { cat ../../../bench/redis.txt; exit 1; }
	$(MAKE) bench-e2e
	$(MAKE) charts

# The PNGs of docs/bench from bench/*.txt (internal/charts, its own
# module: the plotting library stays out of every published module).
charts:
	cd internal/charts && $(GO) run . -in ../../bench -out ../../docs/bench

demo:
	$(GO) run ./examples/demo

# A faster loop while editing: formatting, vet and the tests of every
# workspace package, but without the race detector, without the per-module
# GOWORK=off pass, and without the suites that start real servers and
# break things (QUICK_SKIP: the fault suite and the end-to-end tests).
# Test results are cached as usual (QUICKFLAGS=-count=1 reruns them all).
# `make test` is what CI runs; run it before pushing.
QUICK_SKIP ?= /examples/(faults|e2e)$$
QUICKFLAGS ?=
quick: fmt-check vet
	$(GO) test -short $(QUICKFLAGS) $$($(GO) list work | grep -Ev '$(QUICK_SKIP)')
