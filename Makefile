# idemkit: one root module plus one module per framework, store and driver.
# `make test` is what CI runs (.ci/run): formatting, vet and race tests of
# every module through go.work, then each module on its own go.mod.

GO      ?= go
MODULES := $(shell $(GO) work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
RACE    ?= -race

.PHONY: test fmt-check vet test-work test-modules fuzz-seeds bench demo staticcheck quick

test: fmt-check vet test-work test-modules

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
test-modules:
	@set -e; for m in $(MODULES); do \
		echo "== GOWORK=off $$m"; \
		(cd $$m && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test $(RACE) -count=1 ./...); \
	done

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
	cd fiber && $(GO) test -run='^$$' -bench=BenchmarkFiber -benchmem -count=6 . > ../bench/fiber.txt || { cat ../bench/fiber.txt; exit 1; }
	@for f in fingerprint gin echo fiber; do echo "== $$f"; $(BENCHSTAT) bench/$$f.txt; done

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
